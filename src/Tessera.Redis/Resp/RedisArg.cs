using System.Globalization;
using System.Text;

namespace Tessera.Redis.Resp;

/// <summary>
/// One binary-safe command argument: a string (sent as UTF-8), bytes, or an integer (sent as its decimal digits).
/// Converts implicitly from <see cref="string"/>, <see cref="byte"/>[], <see cref="ReadOnlyMemory{T}"/> of bytes and
/// <see cref="long"/>, so <c>["SET", key, value]</c> reads naturally. Arguments are copied into the command's buffer
/// before the call that takes them returns, so the caller may reuse its arrays at once.
/// </summary>
public readonly struct RedisArg
{
    private readonly string? _text;
    private readonly ReadOnlyMemory<byte> _bytes;
    private readonly long _integer;
    private readonly byte _kind; // 0 = null/default, 1 = text, 2 = bytes, 3 = integer

    private RedisArg(string? text, ReadOnlyMemory<byte> bytes, long integer, byte kind)
    {
        _text = text;
        _bytes = bytes;
        _integer = integer;
        _kind = kind;
    }

    /// <summary>A UTF-8 string argument; a null string makes an argument that the command refuses with an <see cref="ArgumentException"/>.</summary>
    /// <param name="value">The text.</param>
    /// <returns>The argument.</returns>
    public static RedisArg FromString(string? value) => value is null ? default : new(value, default, 0, 1);

    /// <summary>A binary argument, sent as is; a null array makes an argument that the command refuses.</summary>
    /// <param name="value">The bytes.</param>
    /// <returns>The argument.</returns>
    public static RedisArg FromBytes(byte[]? value) => value is null ? default : new(null, value, 0, 2);

    /// <summary>A binary argument, sent as is.</summary>
    /// <param name="value">The bytes.</param>
    /// <returns>The argument.</returns>
    public static RedisArg FromMemory(ReadOnlyMemory<byte> value) => new(null, value, 0, 2);

    /// <summary>An integer argument, sent as decimal digits (what Redis expects for counts, times and database numbers).</summary>
    /// <param name="value">The number.</param>
    /// <returns>The argument.</returns>
    public static RedisArg FromInt64(long value) => new(null, default, value, 3);

    /// <summary>Converts a string (UTF-8).</summary>
    /// <param name="value">The text.</param>
    public static implicit operator RedisArg(string? value) => FromString(value);

    /// <summary>Converts bytes.</summary>
    /// <param name="value">The bytes.</param>
    public static implicit operator RedisArg(byte[]? value) => FromBytes(value);

    /// <summary>Converts bytes.</summary>
    /// <param name="value">The bytes.</param>
    public static implicit operator RedisArg(ReadOnlyMemory<byte> value) => FromMemory(value);

    /// <summary>Converts an integer.</summary>
    /// <param name="value">The number.</param>
    public static implicit operator RedisArg(long value) => FromInt64(value);

    internal bool IsNull => _kind == 0;

    /// <summary>The number of bytes this argument takes on the wire, without the RESP framing.</summary>
    internal int ByteCount => _kind switch
    {
        1 => Encoding.UTF8.GetByteCount(_text!),
        2 => _bytes.Length,
        3 => DigitCount(_integer),
        _ => 0,
    };

    /// <summary>Writes the argument's bytes (exactly <see cref="ByteCount"/> of them).</summary>
    internal int CopyTo(Span<byte> destination)
    {
        switch (_kind)
        {
            case 1:
                return Encoding.UTF8.GetBytes(_text!, destination);
            case 2:
                _bytes.Span.CopyTo(destination);
                return _bytes.Length;
            case 3:
                _integer.TryFormat(destination, out var written, default, CultureInfo.InvariantCulture);
                return written;
            default:
                return 0;
        }
    }

    internal static int DigitCount(long value)
    {
        if (value == long.MinValue)
        {
            return 20;
        }

        var count = value < 0 ? 2 : 1;
        var v = Math.Abs(value);
        while (v >= 10)
        {
            v /= 10;
            count++;
        }

        return count;
    }

    /// <summary>Describes the argument's type and size, never its content (arguments can be secrets).</summary>
    /// <returns>For example <c>RedisArg(text)</c>.</returns>
    public override string ToString() => _kind switch
    {
        1 => "RedisArg(text)",
        2 => $"RedisArg({_bytes.Length.ToString(CultureInfo.InvariantCulture)} bytes)",
        3 => "RedisArg(integer)",
        _ => "RedisArg(null)",
    };
}
