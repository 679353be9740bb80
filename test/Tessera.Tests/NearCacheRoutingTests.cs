using System.Security.Cryptography;
using Microsoft.Extensions.Time.Testing;
using Tessera.NearCache;
using Tessera.Testing;
using Tessera.TestServices;

namespace Tessera.Tests;

/// <summary>
/// The near cache passes a credential's route to a routed store and serves a cached session only on its own route;
/// over a store that is not routed it ignores the route, so cookies issued before credentials carried routes still work.
/// </summary>
public sealed class NearCacheRoutingTests
{
    private readonly FakeTimeProvider _clock = new(TestClock.Start);

    [Fact]
    public async Task OverARoutedStoreACachedSessionIsServedOnlyOnItsRoute()
    {
        await using var cache = await StartAsync(new RoutedMemoryStore(new InMemorySessionStore(_clock)));
        var record = await CreateAsync(cache);
        var route = SessionRoute.Of(record.Id);
        var wrong = new SessionRoute((ushort)(route.Value ^ 0x0101));

        Assert.Equal(record.Id, (await cache.LoadByCredentialAsync(record.CredentialHash, route))?.Id);
        Assert.Equal(1, cache.Count);
        Assert.Equal(record.Id, (await cache.LoadByCredentialAsync(record.CredentialHash, route))?.Id);

        Assert.Null(await cache.LoadByCredentialAsync(record.CredentialHash, wrong));
        Assert.True(SessionStoreLookups.IsRouted(cache));
    }

    [Fact]
    public async Task OverAPlainStoreTheRouteIsIgnored()
    {
        await using var cache = await StartAsync(new InMemorySessionStore(_clock));
        var record = await CreateAsync(cache);
        var wrong = new SessionRoute((ushort)(SessionRoute.Of(record.Id).Value ^ 0x0101));

        // A cookie from before routes carries two random bytes where the route now is: it must still find its session.
        Assert.Equal(record.Id, (await cache.LoadByCredentialAsync(record.CredentialHash, wrong))?.Id);
        Assert.Equal(1, cache.Count);
        Assert.Equal(record.Id, (await cache.LoadByCredentialAsync(record.CredentialHash, wrong))?.Id);
        Assert.False(SessionStoreLookups.IsRouted(cache));
    }

    private async Task<NearCacheSessionStore> StartAsync(ISessionStore store)
    {
        var cache = new NearCacheSessionStore(store, new LoopbackChannel(), null, _clock);
        await cache.StartAsync();
        return cache;
    }

    private async Task<SessionRecord> CreateAsync(ISessionStore store)
    {
        var now = _clock.GetUtcNow();
        var record = new SessionRecord
        {
            Id = SessionIds.NewId(),
            CredentialHash = RandomNumberGenerator.GetBytes(32),
            CreatedAt = now,
            LastSeenAt = now,
            IdleExpiresAt = now.AddMinutes(30),
            AbsoluteExpiresAt = now.AddHours(8),
        };
        Assert.True(await store.CreateAsync(record));
        return record;
    }

    // The channel of a single instance: it listens at once and delivers its own messages to itself.
    private sealed class LoopbackChannel : ISessionInvalidationChannel
    {
        private ISessionInvalidationListener? _listener;

        public Task StartAsync(ISessionInvalidationListener listener, CancellationToken cancellationToken = default)
        {
            _listener = listener;
            listener.OnListening(true);
            return Task.CompletedTask;
        }

        public ValueTask PublishAsync(string? sessionId, CancellationToken cancellationToken = default)
        {
            if (sessionId is null)
            {
                _listener?.OnInvalidatedAll();
            }
            else
            {
                _listener?.OnInvalidated(sessionId);
            }
            return ValueTask.CompletedTask;
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
