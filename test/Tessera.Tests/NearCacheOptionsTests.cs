using Microsoft.Extensions.DependencyInjection;
using Tessera.NearCache;

namespace Tessera.Tests;

/// <summary>The near cache's configuration errors: each is caught where it is made, with a message naming the fix.</summary>
public sealed class NearCacheOptionsTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(301)]
    public void MaxStalenessOutsideItsRangeIsRefused(int seconds)
    {
        var options = new NearCacheOptions { MaxStaleness = TimeSpan.FromSeconds(seconds) };
        var failure = Assert.Throws<ArgumentOutOfRangeException>(options.Validate);
        Assert.Contains("NearCache:MaxStaleness must be more than zero and at most", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MaxEntriesBelowOneIsRefused()
    {
        var failure = Assert.Throws<ArgumentOutOfRangeException>(new NearCacheOptions { MaxEntries = 0 }.Validate);
        Assert.Equal("MaxEntries", failure.ParamName);
    }

    [Fact]
    public void TheDefaultsAreFiveSecondsAHundredThousandSessionsAndTenSecondsToStart()
    {
        var options = new NearCacheOptions();
        options.Validate();
        Assert.Equal(TimeSpan.FromSeconds(5), options.MaxStaleness);
        Assert.Equal(100_000, options.MaxEntries);
        Assert.Equal(TimeSpan.FromSeconds(10), options.StartTimeout);
    }

    [Fact]
    public async Task AStoreWithoutEveryCapabilityCannotBeCached()
    {
        await using var channel = new UnusedChannel();
        var failure = Assert.Throws<ArgumentException>(() => new NearCacheSessionStore(new RequiredOnlyStore(new InMemorySessionStore(TimeProvider.System)), channel));
        Assert.Contains("needs a store that implements ISessionStoreCleanup", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ANearCacheCannotBeCachedAgain()
    {
        await using var channel = new UnusedChannel();
        await using var cache = new NearCacheSessionStore(new InMemorySessionStore(TimeProvider.System), channel);
        Assert.Throws<ArgumentException>(() => new NearCacheSessionStore(cache, channel));
    }

    [Fact]
    public void UseNearCacheBeforeAStoreIsChosenIsRefused()
    {
        var services = new ServiceCollection();
        var builder = new TesseraBuilder(services);
        var failure = Assert.Throws<InvalidOperationException>(() => builder.UseNearCache());
        Assert.Contains("before UseNearCache()", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ANearCacheOverAStoreWithoutAChannelFailsWhenResolvedNamingTheStores()
    {
        var services = new ServiceCollection();
        services.AddTesseraCore(o => o.Keys.Add(SigningKeyRing.GenerateBase64Key())).UseMemoryStore().UseNearCache();
        using var provider = services.BuildServiceProvider();
        var failure = Assert.Throws<InvalidOperationException>(() => provider.GetRequiredService<ISessionStore>());
        Assert.Contains("needs a store that can tell other instances about changes (Redis or PostgreSQL)", failure.Message, StringComparison.Ordinal);
        Assert.Contains("InMemorySessionStore", failure.Message, StringComparison.Ordinal);
    }

    /// <summary>A channel for constructor checks only: starting or publishing on it is a test bug.</summary>
    private sealed class UnusedChannel : ISessionInvalidationChannel
    {
        public Task StartAsync(ISessionInvalidationListener listener, CancellationToken cancellationToken = default) =>
            throw new InvalidOperationException("not used by these tests");

        public ValueTask PublishAsync(string? sessionId, CancellationToken cancellationToken = default) =>
            throw new InvalidOperationException("not used by these tests");

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
