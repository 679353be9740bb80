using System.Threading.Channels;
using Tessera.NearCache;

namespace Tessera.Cli.Tests;

/// <summary>
/// The suite on a store that app instances share (PostgreSQL, Redis), plus what only such a store needs: the apps
/// listening on the store's invalidation channel hear of the tool's revokes and clears at once, so their near caches
/// drop the sessions and their connection lifetimes close live connections, told <c>operator</c>.
/// </summary>
public abstract class SharedStoreCliTests : CliStoreTests
{
    /// <summary>A new channel on the test's own connection to the store (an app instance's view of it).</summary>
    protected abstract ISessionInvalidationChannel CreateChannel(ISessionStore store);

    [Fact]
    public async Task RevokesAreAnnouncedToTheAppsAsEndedByAnOperatorAndAClearAsEverything()
    {
        var seeded = await SeedAsync();
        await using var channel = CreateChannel(await OpenStoreAsync());
        var heard = new Heard();
        await channel.StartAsync(heard, TestContext.Current.CancellationToken).WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);

        var one = await Run("revoke", seeded.Live[0]);
        Assert.True(one.ExitCode == 0, one.All);
        Assert.Equal($"{seeded.Live[0]} operator", await heard.NextAsync());

        var user = await Run("revoke", "--user", "bob");
        Assert.True(user.ExitCode == 0, user.All);
        Assert.Equal($"{seeded.Live[1]} operator", await heard.NextAsync());

        var clear = await Run("clear", "--force");
        Assert.True(clear.ExitCode == 0, clear.All);
        Assert.Equal("everything", await heard.NextAsync());
        Assert.DoesNotContain("Warning", one.All + user.All + clear.All, StringComparison.Ordinal);
    }

    private sealed class Heard : ISessionInvalidationListener
    {
        private readonly Channel<string> _messages = Channel.CreateUnbounded<string>();

        public async Task<string> NextAsync() =>
            await _messages.Reader.ReadAsync(TestContext.Current.CancellationToken).AsTask().WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);

        public void OnInvalidated(string sessionId) => _messages.Writer.TryWrite(sessionId + " (changed)");

        public void OnEnded(string sessionId, SessionRevocationReason reason) => _messages.Writer.TryWrite($"{sessionId} {new SessionEnded(sessionId, reason, false).Code}");

        public void OnInvalidatedAll() => _messages.Writer.TryWrite("everything");

        public void OnListening(bool listening)
        {
        }
    }
}
