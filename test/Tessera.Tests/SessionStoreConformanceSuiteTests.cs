using Tessera.Testing;
using Xunit.Sdk;

namespace Tessera.Tests;

/// <summary>The conformance suite itself: a missing capability fails loudly unless the store's test class declares it.</summary>
public sealed class SessionStoreConformanceSuiteTests
{
    [Fact]
    public async Task AStoreWithoutAnOptionalCapabilityFailsThoseTestsWithAClearMessage()
    {
        var suite = new UndeclaredSuite();

        var counting = await Assert.ThrowsAsync<XunitException>(suite.CountingSeesOnlyLiveSessions);
        var cleanup = await Assert.ThrowsAsync<XunitException>(suite.CleanupDeletesExpiredSessionsInBatchesAndKeepsLiveOnes);
        var index = await Assert.ThrowsAsync<XunitException>(suite.ListingBySubjectGivesTheSubjectsLiveSessionsOldestFirst);
        var administration = await Assert.ThrowsAsync<XunitException>(suite.StatisticsCountEachStateApart);
        var limit = await Assert.ThrowsAsync<XunitException>(suite.TrimmingCountsOnlyTheSubjectsLiveSessions);

        Assert.Contains("does not implement ISessionStoreCounter", counting.Message, StringComparison.Ordinal);
        Assert.Contains("override SupportsCounting", counting.Message, StringComparison.Ordinal);
        Assert.Contains("override SupportsCleanup", cleanup.Message, StringComparison.Ordinal);
        Assert.Contains("override SupportsSubjectIndex", index.Message, StringComparison.Ordinal);
        Assert.Contains("override SupportsAdministration", administration.Message, StringComparison.Ordinal);
        Assert.Contains("override SupportsSubjectLimit", limit.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ADeclaredMissingCapabilityIsNotTested()
    {
        var suite = new DeclaredSuite();

        await suite.CountingSeesOnlyLiveSessions();
        await suite.CleanupDeletesExpiredSessionsInBatchesAndKeepsLiveOnes();
        await suite.ListingBySubjectGivesTheSubjectsLiveSessionsOldestFirst();
        await suite.AFullRejectingStoreRefusesANewSessionAndKeepsTheOthers();
        await suite.ClearingDeletesEverySessionAndTheStoreStaysUsable();
        await suite.TrimmingCountsOnlyTheSubjectsLiveSessions();

        Assert.Equal(0, suite.StoresCreatedWithABound);
    }

    [Fact]
    public async Task TheRequiredContractStillRunsOnAStoreWithoutOptionalCapabilities()
    {
        var suite = new DeclaredSuite();

        await suite.ACreatedSessionLoadsByCredentialWithEveryFieldIntact();
        await suite.AHundredConcurrentPatchesSettingDifferentKeysAllSurvive();
        await suite.ApplyingToARevokedSessionReturnsFalseAndWritesNothing();

        Assert.True(suite.StoresCreated >= 3);
    }

    private class UndeclaredSuite : SessionStoreConformanceTests
    {
        public int StoresCreated { get; private set; }

        public int StoresCreatedWithABound { get; private set; }

        protected override ISessionStore CreateStore(int maxSessions = 0, StoreCapacityPolicy policy = StoreCapacityPolicy.EvictLeastRecentlyUsed)
        {
            StoresCreated++;
            if (maxSessions > 0)
            {
                StoresCreatedWithABound++;
            }
            return new RequiredOnlyStore(new InMemorySessionStore(Clock));
        }
    }

    private sealed class DeclaredSuite : UndeclaredSuite
    {
        protected override bool SupportsCleanup => false;

        protected override bool SupportsCounting => false;

        protected override bool SupportsSubjectIndex => false;

        protected override bool SupportsCapacityBound => false;

        protected override bool SupportsAdministration => false;

        protected override bool SupportsSubjectLimit => false;
    }
}
