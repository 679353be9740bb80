using System.Security.Cryptography;
using Tessera.Testing;
using Tessera.TestServices;
using Tessera.Tokens;

namespace Tessera.Tests;

public sealed class CountingSessionStoreTests
{
    private readonly CountingSessionStore _store = new(new InMemorySessionStore());

    private static SessionRecord NewRecord(string id)
    {
        var now = DateTimeOffset.UtcNow;
        return new SessionRecord
        {
            Id = id,
            CredentialHash = RandomNumberGenerator.GetBytes(32),
            Subject = "s",
            CreatedAt = now,
            LastSeenAt = now,
            IdleExpiresAt = now.AddMinutes(30),
            AbsoluteExpiresAt = now.AddHours(1),
        };
    }

    private static TokenRecord Token(string id, TokenKind kind) => new()
    {
        Id = id,
        SessionId = "a",
        Kind = kind,
        PairedTokenId = id,
        CreatedAt = DateTimeOffset.UtcNow,
        ExpiresAt = DateTimeOffset.UtcNow.AddMinutes(5),
    };

    [Fact]
    public async Task EveryOperationIsCountedAsAReadOrAWrite()
    {
        var record = NewRecord("a");
        var now = DateTimeOffset.UtcNow;

        await _store.CreateAsync(record);
        await _store.LoadAsync("a");
        await _store.LoadByCredentialAsync(record.CredentialHash);
        await _store.ApplyAsync("a", new SessionPatch());
        await _store.TouchAsync("a", now, now.AddMinutes(30));
        await _store.ListBySubjectAsync("s");
        await _store.CountAsync();
        await _store.RevokeAsync("a", now);
        await _store.DeleteAsync("a");
        await _store.DeleteExpiredAsync(10);
        await _store.DeleteRevokedAsync(now, 10);
        await _store.CreateTokensAsync(Token("t1", TokenKind.Access), Token("t2", TokenKind.Refresh));
        await _store.LoadTokenAsync("t1");
        await _store.LoadRefreshTokenAsync("t2");
        await _store.RotateAsync("t2", Token("t3", TokenKind.Access), Token("t4", TokenKind.Refresh), now);
        await _store.TryRotateAsync("t4", Token("t5", TokenKind.Access), Token("t6", TokenKind.Refresh), now, TimeSpan.Zero);

        Assert.Equal(6, _store.Reads);
        Assert.Equal(10, _store.Writes);
        Assert.Equal(16, _store.Calls);
        Assert.All(_store.Snapshot(), pair => Assert.Equal(1, pair.Value));
        Assert.Equal(1, _store.Count(nameof(ISessionStore.TouchAsync)));
        Assert.Equal(1, _store.Count("Touch"));
    }

    [Fact]
    public async Task ARoutedLoadByCredentialIsCountedAsALoadByCredential()
    {
        var record = NewRecord("a");
        await _store.CreateAsync(record);

        Assert.Equal("a", (await _store.LoadByCredentialAsync(record.CredentialHash, SessionRoute.Of("a")))?.Id);

        Assert.Equal(1, _store.Count("LoadByCredential"));
        Assert.Equal(1, _store.Reads);
    }

    [Fact]
    public async Task TheRouteReachesARoutedInnerStoreAndIsIgnoredByAPlainOne()
    {
        var record = NewRecord("abcd-session");
        var wrong = new SessionRoute(0x1234);
        var routed = new CountingSessionStore(new RoutedMemoryStore(new InMemorySessionStore()));
        var plain = new CountingSessionStore(new RequiredOnlyStore(new InMemorySessionStore()));
        Assert.True(await routed.CreateAsync(record));
        Assert.True(await plain.CreateAsync(record));

        Assert.Equal(record.Id, (await routed.LoadByCredentialAsync(record.CredentialHash, SessionRoute.Of(record.Id)))?.Id);
        Assert.Null(await routed.LoadByCredentialAsync(record.CredentialHash, wrong));
        Assert.Equal(record.Id, (await plain.LoadByCredentialAsync(record.CredentialHash, wrong))?.Id);
        Assert.True(SessionStoreLookups.IsRouted(routed));
        Assert.False(SessionStoreLookups.IsRouted(plain));
    }

    [Fact]
    public async Task ResetSetsEveryCountToZero()
    {
        await _store.CreateAsync(NewRecord("a"));
        await _store.LoadAsync("a");

        _store.Reset();

        Assert.Equal(0, _store.Calls);
        Assert.All(_store.Snapshot(), pair => Assert.Equal(0, pair.Value));
    }

    [Fact]
    public void AnUnknownOperationNameIsAnError()
    {
        Assert.Throws<ArgumentException>(() => _store.Count("Tuoch"));
    }

    [Fact]
    public async Task ConcurrentCallsAreAllCounted()
    {
        await Task.WhenAll(Enumerable.Range(0, 1000).Select(i => Task.Run(async () => await _store.LoadAsync($"id{i}"))));

        Assert.Equal(1000, _store.Reads);
        Assert.Equal(0, _store.Writes);
    }

    [Fact]
    public async Task ACapabilityTheInnerStoreLacksThrowsNotSupported()
    {
        var bare = new CountingSessionStore(new RequiredOnlyStore(new InMemorySessionStore()));

        await Assert.ThrowsAsync<NotSupportedException>(async () => await bare.DeleteExpiredAsync(1));
        await Assert.ThrowsAsync<NotSupportedException>(async () => await bare.CountAsync());
        await Assert.ThrowsAsync<NotSupportedException>(async () => await bare.ListBySubjectAsync("s"));
        Assert.Equal(3, bare.Calls); // counted even though they failed
    }

    [Fact]
    public async Task CallsReachTheInnerStore()
    {
        var record = NewRecord("a");

        Assert.True(await _store.CreateAsync(record));

        Assert.Equal("a", (await _store.Inner.LoadAsync("a"))!.Id);
        Assert.Equal(1, await _store.CountAsync());
        Assert.Contains("Create=1", _store.ToString(), StringComparison.Ordinal);
    }
}
