namespace Tessera.Demo.Tests;

/// <summary>
/// The Redis server the demo's Redis tests use: <c>TESSERA_TEST_REDIS</c> (host:port), which <c>./test.sh</c> sets after
/// starting a throwaway server. Never skipped: without it the tests fail and say how to run them. Each test (or fleet)
/// gets a key prefix of its own, so they share the server without seeing each other's sessions.
/// </summary>
internal static class TestRedis
{
    public const string Variable = "TESSERA_TEST_REDIS";

    /// <summary>host:port of the server, or a failure telling how to get one.</summary>
    public static string Endpoint =>
        Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException(
                $"{Variable} is not set, so there is no Redis to run the demo's Redis tests against. Run ./test.sh "
                + "(it starts a throwaway redis-server and exports the variable), or set it to host:port of a Redis these tests may write to.");

    /// <summary>The demo arguments for the Redis store under a fresh key prefix.</summary>
    public static string[] Arguments(string purpose) =>
        [$"--ConnectionStrings:Redis={Endpoint}", $"--Tessera:Redis:KeyPrefix=demo-{purpose}-{Guid.NewGuid():N}"];
}
