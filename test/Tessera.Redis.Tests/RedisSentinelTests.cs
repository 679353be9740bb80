using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;
using Tessera.Testing;

namespace Tessera.Redis.Tests;

/// <summary>The store finds the primary through Sentinel, by service name, and writes there.</summary>
[Collection(RedisTopologyCollections.Sentinel)]
public sealed class RedisSentinelTests
{
    [Fact]
    public async Task AStoreGivenTheSentinelAndServiceNameWritesToTheCurrentPrimary()
    {
        var topology = await RedisTopology.SharedAsync(RedisTopologyKind.Sentinel);
        var clock = new FakeTimeProvider(TestClock.Start);
        var prefix = "tessera-test-" + Guid.NewGuid().ToString("N");
        try
        {
            var record = RedisTlsTests.NewRecord(clock, subject: "alice");
            // The configuration string names only the Sentinel and the service, never the primary.
            await using (var store = new RedisSessionStore(new RedisSessionStoreOptions { KeyPrefix = prefix, ConnectionString = topology.ConfigurationString }, clock))
            {
                Assert.True(await store.CreateAsync(record, TestContext.Current.CancellationToken));
                Assert.Equal(record.Id, (await store.LoadAsync(record.Id, TestContext.Current.CancellationToken))?.Id);
                Assert.Equal(record.Id, (await ((IRoutedSessionStore)store).LoadByCredentialAsync(record.CredentialHash, SessionRoute.Of(record.Id), TestContext.Current.CancellationToken))?.Id);
            }

            // Ask the Sentinel itself which node is the primary, and find the session's keys on that node.
            var primary = await RedisTopology.SentinelPrimaryAsync(topology.ConfigurationString);
            Assert.NotNull(primary);
            await using var direct = await RedisTopology.ConnectAsync(new ConfigurationOptions { EndPoints = { primary } });
            var server = direct.GetServer(primary);
            Assert.False(server.IsReplica);
            var keys = await RedisTopology.KeysByPrimaryAsync(direct, prefix);
            Assert.NotEmpty(Assert.Single(keys).Value);
        }
        finally
        {
            await topology.DeleteKeysAsync(prefix);
        }
    }
}
