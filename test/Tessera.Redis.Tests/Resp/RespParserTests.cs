using System.Text;
using Tessera.Redis.Resp;

namespace Tessera.Redis.Tests.Resp;

/// <summary>Wire-format cases a Redis 7 server in RESP2 never sends (RESP3 types, malformed input, split packets).</summary>
public sealed class RespParserTests
{
    private static RedisValue ParseAll(string resp)
    {
        var bytes = Encoding.UTF8.GetBytes(resp);
        Assert.True(RespParser.TryScan(bytes, out var length));
        Assert.Equal(bytes.Length, length);
        return RespParser.Parse(bytes);
    }

    [Fact]
    public void Resp3TypesAreUnderstood()
    {
        var value = ParseAll("%2\r\n+a\r\n,1.5\r\n$1\r\nb\r\n~3\r\n#t\r\n_\r\n(12345678901234567890\r\n");

        Assert.Equal(RedisValueKind.Map, value.Kind);
        var items = value.AsArray()!;
        Assert.Equal(4, items.Count);
        Assert.Equal("a", items[0].AsString());
        Assert.Equal(1.5, items[1].AsDouble());
        var set = items[3].AsArray()!;
        Assert.Equal(RedisValueKind.Boolean, set[0].Kind);
        Assert.Equal(1, set[0].AsInt64());
        Assert.True(set[1].IsNull);
        Assert.Equal("12345678901234567890", set[2].AsString());
    }

    [Fact]
    public void VerbatimStringsBlobErrorsAndAttributesAreUnwrapped()
    {
        Assert.Equal("hello", ParseAll("=9\r\ntxt:hello\r\n").AsString());
        Assert.True(ParseAll("!5\r\nERR x\r\n").IsError);
        Assert.Equal(7, ParseAll("|1\r\n+ttl\r\n:3\r\n:7\r\n").AsInt64());
    }

    [Fact]
    public void NullBulkAndNullArrayKeepTheirKinds()
    {
        var bulk = ParseAll("$-1\r\n");
        var array = ParseAll("*-1\r\n");

        Assert.Equal(RedisValueKind.BulkString, bulk.Kind);
        Assert.True(bulk.IsNull);
        Assert.Equal(RedisValueKind.Array, array.Kind);
        Assert.True(array.IsNull);
        Assert.Null(array.AsArray());
    }

    [Fact]
    public void AReplySplitAnywhereIsIncompleteUntilItsLastByte()
    {
        var bytes = "*3\r\n$5\r\nhel\r\n\r\n*1\r\n:-42\r\n+OK\r\n"u8.ToArray();
        for (var cut = 0; cut < bytes.Length; cut++)
        {
            Assert.False(RespParser.TryScan(bytes.AsSpan(0, cut), out _));
        }

        Assert.True(RespParser.TryScan(bytes, out var length));
        Assert.Equal(bytes.Length, length);
        Assert.Equal("hel\r\n", RespParser.Parse(bytes).AsArray()![0].AsString());
    }

    [Theory]
    [InlineData("hello\r\n")]
    [InlineData("$3\r\nabcd\r\n")]
    [InlineData(":12a\r\n")]
    [InlineData("*-2\r\n")]
    [InlineData("+OK\n")]
    public void BytesThatAreNotRespAreRejected(string resp)
    {
        Assert.Throws<RedisProtocolException>(() => RespParser.TryScan(Encoding.ASCII.GetBytes(resp), out _));
    }

    [Fact]
    public void DeepNestingIsRejectedInsteadOfOverflowingTheStack()
    {
        var resp = string.Concat(Enumerable.Repeat("*1\r\n", 10_000)) + ":1\r\n";
        var bytes = Encoding.ASCII.GetBytes(resp);

        Assert.True(RespParser.TryScan(bytes, out _));
        Assert.Throws<RedisProtocolException>(() => RespParser.Parse(bytes));
    }

    [Fact]
    public void CommandsAreEncodedAsArraysOfBulkStrings()
    {
        var buffer = RespWriter.Encode("SET", ["k", new byte[] { 0, 13, 10 }, -5L, "é"], out var length);

        Assert.Equal("*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\n\0\r\n\r\n$2\r\n-5\r\n$2\r\né\r\n", Encoding.UTF8.GetString(buffer, 0, length));
    }
}
