using System.Diagnostics;
using Tessera.Redis.Resp;

namespace Tessera.Redis.Tests.Resp;

/// <summary>Authentication, timeouts, garbage and restarts, each against a server of its own.</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisFaultTests
{
    private const string Password = "pa55-word-that-must-not-leak";

    private static RedisOptions Options(int port, Action<RedisOptions>? configure = null)
    {
        var options = RedisOptions.Parse($"127.0.0.1:{port}");
        options.ReconnectMinDelay = TimeSpan.FromMilliseconds(20);
        options.ReconnectMaxDelay = TimeSpan.FromMilliseconds(300);
        configure?.Invoke(options);
        return options;
    }

    [Fact]
    public async Task APasswordProtectedServerAcceptsTheRightPasswordAndRefusesAWrongOneWithoutShowingIt()
    {
        await using var server = await RedisServer.StartAsync("--requirepass", Password);

        await using (var good = await RedisConnection.ConnectAsync(RedisOptions.Parse($"{server.Endpoint},password={Password}")))
        {
            Assert.Equal("PONG", (await good.ExecuteAsync("PING")).AsString());
        }

        // ACL form: user + password.
        await using (var withUser = await RedisConnection.ConnectAsync(Options(server.Port, o => (o.User, o.Password) = ("default", Password))))
        {
            Assert.Equal("PONG", (await withUser.ExecuteAsync("PING")).AsString());
        }

        var wrong = await Assert.ThrowsAsync<RedisConnectionException>(() =>
            RedisConnection.ConnectAsync(Options(server.Port, o => o.Password = Password + "-wrong")));
        Assert.Contains("WRONGPASS", wrong.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, wrong.ToString(), StringComparison.Ordinal);

        // No password at all: the connection opens (nothing is sent), and commands are refused by the server.
        await using var none = await RedisConnection.ConnectAsync(Options(server.Port));
        var refused = await Assert.ThrowsAsync<RedisServerException>(async () => await none.ExecuteAsync("GET", "k"));
        Assert.Equal("NOAUTH", refused.ErrorCode);
    }

    [Fact]
    public async Task AuthAndSelectAreReappliedAfterAReconnect()
    {
        await using var server = await RedisServer.StartAsync("--requirepass", Password);
        await using var connection = await RedisConnection.ConnectAsync(Options(server.Port, o => (o.Password, o.Database) = (Password, 3)));
        await connection.ExecuteAsync("SET", "k", "in db 3");

        // The server drops our socket (CLIENT KILL of our own id) without a restart.
        var id = (await connection.ExecuteAsync("CLIENT", "ID")).AsInt64();
        await connection.ExecuteAsync("CLIENT", "KILL", "ID", id, "SKIPME", "no");
        for (var i = 0; i < 200 && connection.IsConnected; i++)
        {
            await Task.Delay(10);
        }

        Assert.False(connection.IsConnected);

        Assert.Equal("in db 3", (await connection.ExecuteAsync("GET", "k")).AsString());
        Assert.True(connection.IsConnected);
    }

    [Fact]
    public async Task ACommandWithoutAReplyTimesOutAndTheConnectionIsReplaced()
    {
        await using var silent = new FakeServer(reply: null);
        await using var connection = await RedisConnection.ConnectAsync(Options(silent.Port, o => o.CommandTimeout = TimeSpan.FromMilliseconds(300)));

        var watch = Stopwatch.StartNew();
        var first = connection.ExecuteAsync("GET", "a").AsTask();
        var second = connection.ExecuteAsync("GET", "b").AsTask();

        await Assert.ThrowsAsync<TimeoutException>(() => first);
        Assert.InRange(watch.ElapsedMilliseconds, 250, 5000);
        // The one behind it lost its place in the reply order: a connection error, not a wrong reply.
        await Assert.ThrowsAnyAsync<Exception>(() => second);
        Assert.Equal(1, silent.Accepted);

        await Assert.ThrowsAsync<TimeoutException>(async () => await connection.ExecuteAsync("GET", "c"));
        Assert.Equal(2, silent.Accepted); // reconnected for the next command
    }

    [Fact]
    public async Task DisposingFailsCommandsStillAwaitingAReply()
    {
        await using var silent = new FakeServer(reply: null);
        var connection = await RedisConnection.ConnectAsync(Options(silent.Port, o => o.CommandTimeout = Timeout.InfiniteTimeSpan));
        var pending = Enumerable.Range(0, 10).Select(i => connection.ExecuteAsync("GET", $"k{i}").AsTask()).ToList();
        await Task.Delay(100);

        await connection.DisposeAsync();

        foreach (var command in pending)
        {
            await Assert.ThrowsAsync<RedisConnectionException>(() => command);
        }
    }

    [Fact]
    public async Task GarbageFromTheServerFailsTheCommandWithAConnectionError()
    {
        await using var garbage = new FakeServer("HTTP/1.1 400 Bad Request\r\n\r\n"u8.ToArray());
        await using var connection = await RedisConnection.ConnectAsync(Options(garbage.Port, o => o.CommandTimeout = TimeSpan.FromSeconds(5)));

        var ex = await Assert.ThrowsAsync<RedisConnectionException>(async () => await connection.ExecuteAsync("PING"));

        Assert.Contains("invalid reply", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConnectingToAClosedPortFailsClearly()
    {
        var port = RedisServer.FreePort();

        var ex = await Assert.ThrowsAsync<RedisConnectionException>(() => RedisConnection.ConnectAsync(Options(port)));

        Assert.Contains($"127.0.0.1:{port}", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AfterARestartTheClientReconnectsByItselfAndPersistedDataIsStillThere()
    {
        await using var server = await RedisServer.StartAsync();
        await using var connection = await RedisConnection.ConnectAsync(Options(server.Port, o => o.CommandTimeout = TimeSpan.FromSeconds(20)));
        await connection.ExecuteAsync("HSET", "session:{abc}", "user", "alice", "cart", "[\"apple\"]");
        await connection.ExecuteAsync("PEXPIREAT", "session:{abc}", DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeMilliseconds());

        // A command waiting for its reply when the server goes away fails clearly instead of hanging.
        var blocked = connection.ExecuteAsync("BLPOP", "nothing", 15L).AsTask();
        await WaitUntilBlockedAsync(server);
        await server.ShutdownAsync();
        var lost = await Assert.ThrowsAsync<RedisConnectionException>(() => blocked);
        Assert.Contains(server.Endpoint, lost.Message, StringComparison.Ordinal);

        // A command sent while the server is down waits for the reconnection (with backoff) instead of failing.
        var whileDown = connection.ExecuteAsync("HGET", "session:{abc}", "user").AsTask();
        await Task.Delay(400);
        Assert.False(whileDown.IsCompleted);
        await server.StartAsync();

        Assert.Equal("alice", (await whileDown).AsString());
        var all = (await connection.ExecuteAsync("HGETALL", "session:{abc}")).AsArray()!;
        Assert.Equal(4, all.Count);
        Assert.InRange((await connection.ExecuteAsync("PTTL", "session:{abc}")).AsInt64(), 1, 3_600_000);
        Assert.True(connection.IsConnected);
    }

    // The BLPOP must have reached the server before it goes away, or it would be a command sent while the server is
    // down (which waits for the reconnection): asked of the server, not guessed with a sleep.
    private static async Task WaitUntilBlockedAsync(RedisServer server)
    {
        await using var observer = await RedisConnection.ConnectAsync(Options(server.Port));
        for (var attempt = 0; attempt < 500; attempt++)
        {
            var info = (await observer.ExecuteAsync("INFO", "clients")).AsString() ?? "";
            if (info.Contains("blocked_clients:1", StringComparison.Ordinal))
            {
                return;
            }
            await Task.Delay(10);
        }
        Assert.Fail("The BLPOP never reached the server.");
    }

    [Fact]
    public async Task ACommandQueuedWhileTheServerStaysDownFailsAfterTheCommandTimeout()
    {
        await using var server = await RedisServer.StartAsync();
        await using var connection = await RedisConnection.ConnectAsync(Options(server.Port, o => o.CommandTimeout = TimeSpan.FromMilliseconds(500)));
        await server.ShutdownAsync();
        await Task.Delay(100);

        var ex = await Assert.ThrowsAnyAsync<Exception>(async () => await connection.ExecuteAsync("PING"));

        Assert.True(ex is RedisConnectionException or TimeoutException, ex.GetType().Name);
        Assert.Contains(server.Endpoint, ex.Message, StringComparison.Ordinal);
    }
}
