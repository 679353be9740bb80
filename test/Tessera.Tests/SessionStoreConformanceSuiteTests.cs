using Tessera.Testing;
using Xunit.Sdk;

namespace Tessera.Tests;

/// <summary>The conformance suite itself: a missing capability fails loudly unless the store's kit declares it.</summary>
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

        Assert.Equal(0, suite.Stores.CreatedWithABound);
    }

    [Fact]
    public async Task TheRequiredContractStillRunsOnAStoreWithoutOptionalCapabilities()
    {
        var suite = new DeclaredSuite();

        await suite.ACreatedSessionLoadsByCredentialWithEveryFieldIntact();
        await suite.AHundredConcurrentPatchesSettingDifferentKeysAllSurvive();
        await suite.ApplyingToARevokedSessionReturnsFalseAndWritesNothing();

        Assert.True(suite.Stores.Created >= 3);
    }

    // A kit whose store has the required contract only, and says nothing about it.
    private class UndeclaredKit : StoreKit
    {
        public int Created { get; private set; }

        public int CreatedWithABound { get; private set; }

        protected override ISessionStore Create(TimeProvider clock, StoreShape shape)
        {
            Created++;
            if (shape.MaxSessions > 0)
            {
                CreatedWithABound++;
            }
            return new RequiredOnlyStore(new InMemorySessionStore(clock));
        }
    }

    // The same store, with every gap declared.
    private sealed class DeclaredKit : UndeclaredKit
    {
        public override bool SupportsCleanup => false;

        public override bool SupportsCounting => false;

        public override bool SupportsSubjectIndex => false;

        public override bool SupportsCapacityBound => false;

        public override bool SupportsAdministration => false;

        public override bool SupportsSubjectLimit => false;
    }

    private sealed class UndeclaredSuite : SessionStoreConformanceTests<UndeclaredKit>
    {
        public UndeclaredKit Stores => Kit;
    }

    private sealed class DeclaredSuite : SessionStoreConformanceTests<DeclaredKit>
    {
        public DeclaredKit Stores => Kit;
    }
}
