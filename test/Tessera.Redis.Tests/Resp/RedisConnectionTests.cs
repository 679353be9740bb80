using System.Text;
using Tessera.Redis.Resp;

namespace Tessera.Redis.Tests.Resp;

[Collection(RedisCollection.Name)]
public sealed class RedisConnectionTests(RedisFixture redis) : IAsyncLifetime
{
    private RedisConnection _connection = null!;

    private static string Key(string name) => $"tessera-test:{Guid.NewGuid():N}:{name}";

    public async ValueTask InitializeAsync() => _connection = await redis.ConnectAsync();

    public async ValueTask DisposeAsync() => await _connection.DisposeAsync();

    [Fact]
    public async Task PingAnswersPong()
    {
        var reply = await _connection.ExecuteAsync("PING");

        Assert.Equal(RedisValueKind.SimpleString, reply.Kind);
        Assert.Equal("PONG", reply.AsString());
    }

    [Fact]
    public async Task SetGetAndDelRoundTripAValue()
    {
        var key = Key("k");

        Assert.Equal("OK", (await _connection.ExecuteAsync("SET", key, "héllo wörld")).AsString());
        Assert.Equal("héllo wörld", (await _connection.ExecuteAsync("GET", key)).AsString());
        Assert.Equal(1, (await _connection.ExecuteAsync("DEL", key)).AsInt64());
        Assert.True((await _connection.ExecuteAsync("GET", key)).IsNull);
    }

    [Fact]
    public async Task IntegerArgumentsAreSentAsDigits()
    {
        var key = Key("n");

        await _connection.ExecuteAsync("SET", key, 41L);
        var reply = await _connection.ExecuteAsync("INCRBY", key, -43L);

        Assert.Equal(RedisValueKind.Integer, reply.Kind);
        Assert.Equal(-2, reply.AsInt64());
    }

    [Fact]
    public async Task HsetAndHgetallRoundTripAHash()
    {
        var key = Key("h");

        var added = await _connection.ExecuteAsync("HSET", key, "a", "1", "b", new byte[] { 0, 255 }, "c", "");
        var all = (await _connection.ExecuteAsync("HGETALL", key)).AsArray()!;

        Assert.Equal(3, added.AsInt64());
        var map = new Dictionary<string, byte[]>();
        for (var i = 0; i < all.Count; i += 2)
        {
            map[all[i].AsString()!] = all[i + 1].ToByteArray()!;
        }

        Assert.Equal("1"u8.ToArray(), map["a"]);
        Assert.Equal(new byte[] { 0, 255 }, map["b"]);
        Assert.Empty(map["c"]);
        Assert.Empty((await _connection.ExecuteAsync("HGETALL", Key("missing"))).AsArray()!);
    }

    [Fact]
    public async Task PexpireatSetsAnAbsoluteExpiryAndAPastOneDeletesTheKey()
    {
        var key = Key("e");
        await _connection.ExecuteAsync("SET", key, "v");
        var at = DateTimeOffset.UtcNow.AddMinutes(5).ToUnixTimeMilliseconds();

        Assert.Equal(1, (await _connection.ExecuteAsync("PEXPIREAT", key, at)).AsInt64());
        var ttl = (await _connection.ExecuteAsync("PTTL", key)).AsInt64();
        Assert.InRange(ttl, 1, 5 * 60 * 1000);

        await _connection.ExecuteAsync("PEXPIREAT", key, DateTimeOffset.UtcNow.AddSeconds(-1).ToUnixTimeMilliseconds());
        Assert.Equal(0, (await _connection.ExecuteAsync("EXISTS", key)).AsInt64());
    }

    [Fact]
    public async Task EvalRunsAScriptWithKeysAndArguments()
    {
        var key = Key("s");

        var reply = await _connection.ExecuteAsync("EVAL", "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('GET', KEYS[1])", 1L, key, "from lua");

        Assert.Equal("from lua", reply.AsString());
    }

    [Fact]
    public async Task EvaluateFallsBackToEvalWhenTheServerDoesNotKnowTheScript()
    {
        // A unique script, so that no other test (or earlier run) has it cached.
        var script = new RedisScript($"return {{ARGV[1], KEYS[1], '{Guid.NewGuid():N}'}}");
        var key = Key("s");
        var direct = await Assert.ThrowsAsync<RedisServerException>(async () => await _connection.ExecuteAsync("EVALSHA", script.Sha1, 0L));
        Assert.Equal("NOSCRIPT", direct.ErrorCode);

        var first = (await _connection.EvaluateAsync(script, [key], ["arg"])).AsArray()!;

        Assert.Equal("arg", first[0].AsString());
        Assert.Equal(key, first[1].AsString());
        // The fallback EVAL cached it: EVALSHA alone works now.
        var cached = await _connection.ExecuteAsync("EVALSHA", script.Sha1, 1L, key, "again");
        Assert.Equal("again", cached.AsArray()![0].AsString());
    }

    [Fact]
    public async Task LoadScriptCachesItUnderItsSha1()
    {
        var script = new RedisScript($"return '{Guid.NewGuid():N}'");

        await _connection.LoadScriptAsync(script);

        Assert.Equal(1, (await _connection.ExecuteAsync("SCRIPT", "EXISTS", script.Sha1)).AsArray()![0].AsInt64());
        Assert.Equal(RedisValueKind.BulkString, (await _connection.ExecuteAsync("EVALSHA", script.Sha1, 0L)).Kind);
    }

    [Fact]
    public async Task AScriptErrorIsARedisServerException()
    {
        var script = new RedisScript("return redis.error_reply('MYERR custom failure')");

        var ex = await Assert.ThrowsAsync<RedisServerException>(async () => await _connection.EvaluateAsync(script));

        Assert.Equal("MYERR", ex.ErrorCode);
        Assert.StartsWith("MYERR custom failure", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AllByteValuesRoundTripUnchanged()
    {
        var key = Key("bin");
        var value = new byte[256 * 2];
        for (var i = 0; i < value.Length; i++)
        {
            value[i] = (byte)i;
        }

        await _connection.ExecuteAsync("SET", key, value);
        var reply = await _connection.ExecuteAsync("GET", key);

        Assert.Equal(value, reply.ToByteArray());
        // CR and LF inside values are data, not framing; a binary key works too.
        var binaryKey = Encoding.UTF8.GetBytes(Key("\r\n\0"));
        await _connection.ExecuteAsync("SET", binaryKey, "\r\n");
        Assert.Equal("\r\n", (await _connection.ExecuteAsync("GET", binaryKey)).AsString());
    }

    [Fact]
    public async Task AnEmptyValueIsNotNull()
    {
        var key = Key("empty");

        await _connection.ExecuteAsync("SET", key, Array.Empty<byte>());
        var reply = await _connection.ExecuteAsync("GET", key);

        Assert.False(reply.IsNull);
        Assert.Equal(0, reply.AsMemory().Length);
        Assert.Equal("", reply.AsString());
    }

    [Fact]
    public async Task AOneMegabyteValueRoundTrips()
    {
        var key = Key("large");
        var value = new byte[1024 * 1024 + 17];
        new Random(42).NextBytes(value);

        await _connection.ExecuteAsync("SET", key, value);
        var replies = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => _connection.ExecuteAsync("GET", key).AsTask()));

        Assert.All(replies, reply => Assert.True(value.AsSpan().SequenceEqual(reply.AsMemory().Span)));
        await _connection.ExecuteAsync("DEL", key);
    }

    [Fact]
    public async Task AMissingKeyIsANullBulkString()
    {
        var reply = await _connection.ExecuteAsync("GET", Key("missing"));

        Assert.Equal(RedisValueKind.BulkString, reply.Kind);
        Assert.True(reply.IsNull);
        Assert.Null(reply.AsString());
        Assert.Null(reply.ToByteArray());
    }

    [Fact]
    public async Task NestedArraysArePreserved()
    {
        var reply = await _connection.ExecuteAsync("EVAL", "return {1, {2, {'three', false}}, 'four', {}}", 0L);

        var top = reply.AsArray()!;
        Assert.Equal(4, top.Count);
        Assert.Equal(1, top[0].AsInt64());
        var second = top[1].AsArray()!;
        Assert.Equal(2, second[0].AsInt64());
        var third = second[1].AsArray()!;
        Assert.Equal("three", third[0].AsString());
        Assert.True(third[1].IsNull); // Lua false is a RESP2 null bulk string
        Assert.Equal("four", top[2].AsString());
        Assert.Empty(top[3].AsArray()!);
    }

    [Fact]
    public async Task AnErrorReplyIsARedisServerExceptionAndTheConnectionStaysUsable()
    {
        var key = Key("str");
        await _connection.ExecuteAsync("SET", key, "not a list");

        var wrongType = await Assert.ThrowsAsync<RedisServerException>(async () => await _connection.ExecuteAsync("LPUSH", key, "x"));
        var notInteger = await Assert.ThrowsAsync<RedisServerException>(async () => await _connection.ExecuteAsync("INCR", key));

        Assert.Equal("WRONGTYPE", wrongType.ErrorCode);
        Assert.Equal("ERR", notInteger.ErrorCode);
        Assert.Contains("not an integer", notInteger.Message, StringComparison.Ordinal);
        Assert.Equal("PONG", (await _connection.ExecuteAsync("PING")).AsString());
    }

    [Fact]
    public async Task AnErrorMessageNeverContainsTheArguments()
    {
        const string Secret = "s3cret-value-do-not-log";

        var unknown = await Assert.ThrowsAsync<RedisServerException>(async () => await _connection.ExecuteAsync("NOSUCHCOMMAND", Secret));
        var arity = await Assert.ThrowsAsync<RedisServerException>(async () => await _connection.ExecuteAsync("GET", Secret, Secret));

        Assert.Equal("ERR", unknown.ErrorCode);
        Assert.DoesNotContain(Secret, unknown.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, arity.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, unknown.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AThousandConcurrentCommandsFromFiftyTasksEachGetTheirOwnReply()
    {
        var prefix = Key("c");
        var mismatches = 0;

        await Task.WhenAll(Enumerable.Range(0, 50).Select(task => Task.Run(async () =>
        {
            var inFlight = new List<(string Expected, Task<RedisValue> Reply)>();
            for (var i = 0; i < 20; i++)
            {
                // Different sizes and kinds, some not awaited before the next is sent, so the pipeline is busy.
                var payload = $"{prefix}:{task}:{i}:" + new string('x', (task * 37 + i * 101) % 3000);
                inFlight.Add((payload, i % 3 == 0
                    ? _connection.ExecuteAsync("ECHO", payload).AsTask()
                    : SetThenGet(payload)));
                if (i % 4 == 3)
                {
                    await Task.WhenAll(inFlight.Select(x => x.Reply));
                }
            }

            foreach (var (expected, reply) in inFlight)
            {
                if ((await reply).AsString() != expected)
                {
                    Interlocked.Increment(ref mismatches);
                }
            }
        })));

        Assert.Equal(0, mismatches);

        async Task<RedisValue> SetThenGet(string value)
        {
            await _connection.ExecuteAsync("SET", value, value);
            var reply = await _connection.ExecuteAsync("GET", value);
            await _connection.ExecuteAsync("DEL", value);
            return reply;
        }
    }

    [Fact]
    public async Task ABatchIsPipelinedAndReturnsEveryReplyInOrderWithErrorsAsValues()
    {
        var key = Key("b");
        var batch = new RedisBatch()
            .Add("SET", key, "1")
            .Add("INCR", key)
            .Add("LPUSH", key, "x")
            .Add("GET", key);

        var replies = await _connection.ExecuteBatchAsync(batch);

        Assert.Equal(4, replies.Count);
        Assert.Equal("OK", replies[0].AsString());
        Assert.Equal(2, replies[1].AsInt64());
        Assert.True(replies[2].IsError);
        Assert.Throws<RedisServerException>(() => replies[2].ThrowIfError());
        Assert.Equal("2", replies[3].AsString());
        Assert.Empty(await _connection.ExecuteBatchAsync(new RedisBatch()));
    }

    [Fact]
    public async Task ATransactionIsAtomicAndOtherCallersNeverLandInsideIt()
    {
        var list = Key("tx");
        var counter = Key("count");
        var echoMismatches = 0;

        var transactions = Enumerable.Range(0, 40).Select(async i =>
        {
            var batch = new RedisBatch()
                .Add("RPUSH", list, $"{i}-a")
                .Add("INCR", counter)
                .Add("RPUSH", list, $"{i}-b");
            var result = await _connection.ExecuteTransactionAsync(batch);
            Assert.NotNull(result);
            Assert.Equal(3, result.Count);
            Assert.Equal(RedisValueKind.Integer, result[1].Kind);
        });
        // Plain commands racing the transactions: if one were written between MULTI and EXEC it would be queued
        // inside the transaction and its caller would get "QUEUED" instead of its echo.
        var echoes = Enumerable.Range(0, 200).Select(async i =>
        {
            var reply = await _connection.ExecuteAsync("ECHO", $"echo-{i}");
            if (reply.AsString() != $"echo-{i}")
            {
                Interlocked.Increment(ref echoMismatches);
            }
        });
        await Task.WhenAll(transactions.Concat(echoes));

        Assert.Equal(0, echoMismatches);
        Assert.Equal(40, (await _connection.ExecuteAsync("GET", counter)).AsInt64());
        var items = (await _connection.ExecuteAsync("LRANGE", list, 0L, -1L)).AsArray()!.Select(v => v.AsString()!).ToList();
        Assert.Equal(80, items.Count);
        for (var i = 0; i < items.Count; i += 2)
        {
            var id = items[i][..^2];
            Assert.Equal($"{id}-a", items[i]);
            Assert.Equal($"{id}-b", items[i + 1]);
        }
    }

    [Fact]
    public async Task ATransactionWithARefusedCommandRunsNothingAndThrowsExecAbort()
    {
        var key = Key("abort");
        var batch = new RedisBatch().Add("SET", key, "1").Add("GET"); // GET without a key is refused while queueing

        var ex = await Assert.ThrowsAsync<RedisServerException>(async () => await _connection.ExecuteTransactionAsync(batch));

        Assert.Equal("EXECABORT", ex.ErrorCode);
        Assert.Contains("wrong number of arguments", ex.InnerException!.Message, StringComparison.Ordinal);
        Assert.True((await _connection.ExecuteAsync("GET", key)).IsNull);
    }

    [Fact]
    public async Task ARuntimeErrorInsideATransactionIsAnErrorValueAndTheRestRuns()
    {
        var key = Key("rt");
        var batch = new RedisBatch().Add("SET", key, "text").Add("INCR", key).Add("APPEND", key, "!");

        var result = (await _connection.ExecuteTransactionAsync(batch))!;

        Assert.Equal("OK", result[0].AsString());
        Assert.True(result[1].IsError);
        Assert.Equal(5, result[2].AsInt64());
    }

    [Fact]
    public async Task ACancelledCommandThatWasSentStillConsumesItsReply()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        // BLPOP on an empty list answers only after its 0.5 s block: the caller gives up long before.
        var blocked = _connection.ExecuteAsync("BLPOP", [Key("empty-list"), "0.5"], cts.Token);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await blocked);
        var next = await _connection.ExecuteAsync("ECHO", "mine");

        // The BLPOP's null reply went to the cancelled command, not to this one.
        Assert.Equal("mine", next.AsString());
    }

    [Fact]
    public async Task AnAlreadyCancelledTokenSendsNothing()
    {
        var key = Key("never");

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
            await _connection.ExecuteAsync("SET", [key, "v"], new CancellationToken(canceled: true)));

        Assert.True((await _connection.ExecuteAsync("GET", key)).IsNull);
    }

    [Fact]
    public async Task SelectingADatabaseIsolatesKeys()
    {
        var key = Key("db");
        await using var db1 = await redis.ConnectAsync(o => o.Database = 1);
        await using var db2 = await RedisConnection.ConnectAsync(RedisOptions.Parse(redis.Endpoint + ",database=2"));

        await db1.ExecuteAsync("SET", key, "one");
        await db2.ExecuteAsync("SET", key, "two");

        Assert.Equal("one", (await db1.ExecuteAsync("GET", key)).AsString());
        Assert.Equal("two", (await db2.ExecuteAsync("GET", key)).AsString());
        Assert.True((await _connection.ExecuteAsync("GET", key)).IsNull);
        await db1.ExecuteAsync("DEL", key);
        await db2.ExecuteAsync("DEL", key);
    }

    [Fact]
    public async Task AnArgumentThatIsNullIsRefusedBeforeAnythingIsSent()
    {
        var ex = Assert.Throws<ArgumentException>(() => _connection.ExecuteAsync("SET", "k", (string?)null));

        Assert.Contains("Argument 1", ex.Message, StringComparison.Ordinal);
        Assert.Equal("PONG", (await _connection.ExecuteAsync("PING")).AsString());
    }

    [Fact]
    public void CommandsThatWouldChangeTheSharedConnectionAreRefused()
    {
        Assert.Throws<NotSupportedException>(() => _connection.ExecuteAsync("select", 1L));
        Assert.Throws<NotSupportedException>(() => _connection.ExecuteAsync("SUBSCRIBE", "channel"));
        Assert.Throws<NotSupportedException>(() => new RedisBatch().Add("AUTH", "x"));
    }

    [Fact]
    public async Task DisposingRejectsLaterCommands()
    {
        var connection = await redis.ConnectAsync();
        await connection.ExecuteAsync("PING");

        await connection.DisposeAsync();
        await connection.DisposeAsync();

        Assert.Throws<ObjectDisposedException>(() => connection.ExecuteAsync("PING"));
    }
}
