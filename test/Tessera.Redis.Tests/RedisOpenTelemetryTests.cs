using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using OpenTelemetry;
using OpenTelemetry.Trace;
using Tessera.Testing;
using Tessera.TestServices;

namespace Tessera.Redis.Tests;

/// <summary>The snippet of docs/redis.md: OpenTelemetry's StackExchange.Redis instrumentation traces the store's own multiplexer.</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisOpenTelemetryTests(RedisFixture redis)
{
    [Fact]
    public async Task TheRedisInstrumentationTracesTheCommandsOfTheMultiplexerTesseraOpenedItself()
    {
        var clock = new FakeTimeProvider(TestClock.Start);
        var prefix = "tessera-test-" + Guid.NewGuid().ToString("N");
        var exported = new List<Activity>();
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(clock);
        services.AddTesseraCore(o => o.Keys.Add(SigningKeyRing.GenerateBase64Key())).UseRedisStore(redis.Endpoint, o => o.KeyPrefix = prefix);
        services.AddOpenTelemetry().WithTracing(tracing => tracing
            .AddRedisInstrumentation(o => o.FlushInterval = TimeSpan.FromMilliseconds(50))
            .ConfigureRedisInstrumentation((sp, instrumentation) =>
                sp.GetRequiredService<RedisSessionStore>().ConnectionOpened += connection => instrumentation.AddConnection(connection))
            .AddInMemoryExporter(exported));
        await using var provider = services.BuildServiceProvider();
        var tracing = provider.GetRequiredService<TracerProvider>();
        var store = provider.GetRequiredService<RedisSessionStore>();

        var record = StoreConfigurationHost.NewRecord(clock);
        Assert.True(await store.CreateAsync(record));
        Assert.NotNull(await store.LoadAsync(record.Id));

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!exported.Any(a => a.DisplayName.Contains("HGETALL", StringComparison.OrdinalIgnoreCase)))
        {
            Assert.True(DateTime.UtcNow < deadline, "No Redis span was exported: " + string.Join(", ", exported.Select(a => a.DisplayName)));
            tracing.ForceFlush(1000);
            await Task.Delay(50);
        }
        await RedisTestStores.DeleteKeysAsync(await store.GetConnectionAsync(), prefix);
    }
}
