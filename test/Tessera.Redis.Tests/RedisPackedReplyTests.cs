using System.Text;

namespace Tessera.Redis.Tests;

/// <summary>
/// The reader of the lookup scripts' packed answers, on MessagePack bytes written by hand (the store tests read what
/// Redis's <c>cmsgpack</c> writes).
/// </summary>
public sealed class RedisPackedReplyTests
{
    [Fact]
    public void StringsOfEveryHeaderSizeComeBackExactlyAndArrayHeadersAreSteppedOver()
    {
        var long8 = new string('a', 200);
        var long16 = new string('b', 70_000 % 65_536 + 300);
        var long32 = new string('c', 70_000);
        var bytes = new List<byte>();
        bytes.AddRange(FixStr("id:1"));
        bytes.Add(0x94); // an array of the four that follow
        bytes.AddRange(FixStr(""));
        bytes.AddRange([0xd9, 200, .. Encoding.UTF8.GetBytes(long8)]);
        bytes.AddRange([0xda, (byte)(long16.Length >> 8), (byte)long16.Length, .. Encoding.UTF8.GetBytes(long16)]);
        bytes.AddRange([0xdb, 0, 1, 0x11, 0x70, .. Encoding.UTF8.GetBytes(long32)]);
        bytes.AddRange([0xdc, 0, 1]); // array 16 of one
        bytes.AddRange(FixStr("é🦊"));
        bytes.AddRange([0xc4, 2, 0xff, 0x00]); // bin 8: any bytes

        var reply = new RedisPackedReply(bytes.ToArray());
        var values = new List<byte[]>();
        while (reply.TryRead(out var value))
        {
            values.Add(value.ToArray());
        }

        Assert.Equal(["id:1", "", long8, long16, long32, "é🦊"], values.Take(6).Select(Encoding.UTF8.GetString));
        Assert.Equal([0xff, 0x00], values[6]);
        Assert.True(reply.IsEmpty);
    }

    [Fact]
    public void AnEmptyReplyHasNoValues()
    {
        var reply = new RedisPackedReply([]);

        Assert.True(reply.IsEmpty);
        Assert.False(reply.TryRead(out _));
    }

    [Theory]
    [InlineData(new byte[] { 0xa3, 0x61 })]             // a string past the end
    [InlineData(new byte[] { 0xd9 })]                   // a header past the end
    [InlineData(new byte[] { 0xda, 0x00 })]
    [InlineData(new byte[] { 0xdc, 0x00 })]
    [InlineData(new byte[] { 0xdb, 0x80, 0, 0, 0 })]     // a length no string has
    [InlineData(new byte[] { 0x01 })]                   // a number
    [InlineData(new byte[] { 0x81, 0xa1, 0x61, 0xa0 })] // a map
    [InlineData(new byte[] { 0xc0 })]                   // nil
    public void BytesThatAreNotAPackedReplyOfStringsAreRefused(byte[] bytes)
    {
        Assert.Throws<InvalidDataException>(() =>
        {
            var reply = new RedisPackedReply(bytes);
            while (reply.TryRead(out _))
            {
            }
        });
    }

    [Fact]
    public void ReadingPastTheLastValueIsRefused()
    {
        Assert.Throws<InvalidDataException>(() =>
        {
            var reply = new RedisPackedReply([0xa1, 0x61]);
            reply.Read();
            reply.Read();
        });
    }

    private static byte[] FixStr(string text)
    {
        var utf8 = Encoding.UTF8.GetBytes(text);
        return [(byte)(0xa0 | utf8.Length), .. utf8];
    }
}
