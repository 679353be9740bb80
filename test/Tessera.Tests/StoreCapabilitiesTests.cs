using Microsoft.Extensions.Time.Testing;
using Tessera.Testing;
using Tessera.Tokens;

namespace Tessera.Tests;

/// <summary>The suites' capability check names what a store lacks, and passes a store that has it.</summary>
public sealed class StoreCapabilitiesTests
{
    private readonly FakeTimeProvider _clock = new(TestClock.Start);

    [Fact]
    public void AStoreWithoutAnInterfaceASuiteNeedsFailsWithItsName()
    {
        var bare = new FaultySessionStore(new InMemorySessionStore(_clock)); // implements ISessionStore only

        var failure = Assert.ThrowsAny<Exception>(() => StoreCapabilities.AssertImplements(bare, "SomeSuite", typeof(ISessionTokenStore), typeof(ISubjectSessionIndex)));

        Assert.Contains("FaultySessionStore does not implement ISessionTokenStore and ISubjectSessionIndex, which SomeSuite needs", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ACountingWrapperIsSeenThroughAndAFullStorePasses()
    {
        var store = new InMemorySessionStore(_clock);

        StoreCapabilities.AssertImplements(new CountingSessionStore(store), "SomeSuite", typeof(ISessionTokenStore), typeof(ISubjectSessionLimiter), typeof(ISessionStoreCleanup));
        Assert.ThrowsAny<Exception>(() => StoreCapabilities.AssertImplements(new CountingSessionStore(new FaultySessionStore(store)), "SomeSuite", typeof(ISessionTokenStore)));
    }
}
