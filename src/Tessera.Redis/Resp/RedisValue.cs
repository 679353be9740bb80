using System.Globalization;
using System.Text;

namespace Tessera.Redis.Resp;

/// <summary>
/// One reply from the server: a simple string, an error, an integer, a bulk string (possibly null), an array (possibly
/// null, possibly nested), or a RESP3 type. A default <see cref="RedisValue"/> is a RESP3 null.
/// </summary>
public readonly struct RedisValue
{
    private readonly object? _payload; // string (simple, error, big number), byte[] (bulk), RedisValue[] (aggregates)
    private readonly long _number;      // integer, boolean (0/1), double bits

    private RedisValue(RedisValueKind kind, object? payload, long number)
    {
        Kind = kind;
        _payload = payload;
        _number = number;
    }

    /// <summary>The type the server sent.</summary>
    public RedisValueKind Kind { get; }

    /// <summary>True for a RESP3 null, a null bulk string (<c>$-1</c>, e.g. GET of a missing key) and a null array (<c>*-1</c>).</summary>
    public bool IsNull => Kind == RedisValueKind.Null
        || (_payload is null && Kind is RedisValueKind.BulkString or RedisValueKind.Array or RedisValueKind.Map or RedisValueKind.Set or RedisValueKind.Push);

    /// <summary>True for an error reply (only seen inside arrays, such as the results of a transaction or batch).</summary>
    public bool IsError => Kind == RedisValueKind.Error;

    /// <summary>True for an array, map, set or push message that is not null.</summary>
    public bool IsAggregate => _payload is RedisValue[];

    internal static RedisValue Null => default;

    internal static RedisValue SimpleString(string value) => new(RedisValueKind.SimpleString, value, 0);

    internal static RedisValue Error(string value) => new(RedisValueKind.Error, value, 0);

    internal static RedisValue Integer(long value) => new(RedisValueKind.Integer, null, value);

    internal static RedisValue Bulk(byte[]? value) => new(RedisValueKind.BulkString, value, 0);

    internal static RedisValue Aggregate(RedisValueKind kind, RedisValue[]? items) => new(kind, items, 0);

    internal static RedisValue Double(double value) => new(RedisValueKind.Double, null, BitConverter.DoubleToInt64Bits(value));

    internal static RedisValue Boolean(bool value) => new(RedisValueKind.Boolean, null, value ? 1 : 0);

    internal static RedisValue BigNumber(string value) => new(RedisValueKind.BigNumber, value, 0);

    /// <summary>
    /// The value as text: a simple string, error or big number as sent, a bulk string decoded as UTF-8, a number in
    /// invariant digits; null for a null value.
    /// </summary>
    /// <returns>The text, or null.</returns>
    /// <exception cref="InvalidOperationException">The value is an array.</exception>
    public string? AsString() => Kind switch
    {
        RedisValueKind.SimpleString or RedisValueKind.Error or RedisValueKind.BigNumber => (string)_payload!,
        RedisValueKind.BulkString => _payload is byte[] bytes ? Encoding.UTF8.GetString(bytes) : null,
        RedisValueKind.Integer => _number.ToString(CultureInfo.InvariantCulture),
        RedisValueKind.Double => AsDouble().ToString("R", CultureInfo.InvariantCulture),
        RedisValueKind.Boolean => _number != 0 ? "1" : "0",
        RedisValueKind.Null => null,
        _ => _payload is null ? null : throw new InvalidOperationException($"A {Kind} reply is not a string."),
    };

    /// <summary>
    /// The bytes of a bulk string without copying them (empty for a null bulk string), or the UTF-8 bytes of any other
    /// scalar. Do not modify the memory; it is shared by every copy of this value.
    /// </summary>
    /// <returns>The bytes.</returns>
    /// <exception cref="InvalidOperationException">The value is an array.</exception>
    public ReadOnlyMemory<byte> AsMemory() => Kind == RedisValueKind.BulkString
        ? (byte[]?)_payload
        : AsString() is { } text ? Encoding.UTF8.GetBytes(text) : ReadOnlyMemory<byte>.Empty;

    /// <summary>A fresh copy of the value's bytes (see <see cref="AsMemory"/>), or null for a null value.</summary>
    /// <returns>The bytes, or null.</returns>
    public byte[]? ToByteArray() => IsNull ? null : AsMemory().ToArray();

    /// <summary>The value as a 64-bit integer: an integer reply, or a bulk or simple string of decimal digits (as HGET returns a number kept in a hash).</summary>
    /// <returns>The number.</returns>
    /// <exception cref="InvalidOperationException">The value is null, an array, or not an integer.</exception>
    public long AsInt64()
    {
        if (Kind is RedisValueKind.Integer or RedisValueKind.Boolean)
        {
            return _number;
        }

        if (Kind is RedisValueKind.BulkString or RedisValueKind.SimpleString or RedisValueKind.BigNumber && !IsNull
            && long.TryParse(AsString(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var parsed))
        {
            return parsed;
        }

        throw new InvalidOperationException($"A {Kind} reply is not an integer.");
    }

    /// <summary>The value as a double: a RESP3 double, or an integer, bulk or simple string holding a number.</summary>
    /// <returns>The number.</returns>
    /// <exception cref="InvalidOperationException">The value is not a number.</exception>
    public double AsDouble()
    {
        if (Kind == RedisValueKind.Double)
        {
            return BitConverter.Int64BitsToDouble(_number);
        }

        if (Kind == RedisValueKind.Integer)
        {
            return _number;
        }

        if (Kind is RedisValueKind.BulkString or RedisValueKind.SimpleString && !IsNull
            && double.TryParse(AsString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed))
        {
            return parsed;
        }

        throw new InvalidOperationException($"A {Kind} reply is not a number.");
    }

    /// <summary>The elements of an array, set, push message or map (keys and values alternating); null for a null array.</summary>
    /// <returns>The elements, or null.</returns>
    /// <exception cref="InvalidOperationException">The value is not an aggregate.</exception>
    public IReadOnlyList<RedisValue>? AsArray() => _payload switch
    {
        RedisValue[] items => items,
        null when Kind is RedisValueKind.Array or RedisValueKind.Map or RedisValueKind.Set or RedisValueKind.Push or RedisValueKind.Null => null,
        _ => throw new InvalidOperationException($"A {Kind} reply is not an array."),
    };

    /// <summary>Throws a <see cref="RedisServerException"/> if this is an error value, otherwise returns it.</summary>
    /// <returns>This value.</returns>
    /// <exception cref="RedisServerException">The value is an error reply.</exception>
    public RedisValue ThrowIfError() => Kind == RedisValueKind.Error ? throw new RedisServerException((string)_payload!) : this;

    /// <summary>
    /// Describes the value for debugging: simple strings, errors and numbers are shown, bulk strings only by their
    /// length (they hold application data, which must not reach logs).
    /// </summary>
    /// <returns>For example <c>SimpleString OK</c>, <c>Integer 3</c>, <c>BulkString (5 bytes)</c>, <c>Array (2)</c>.</returns>
    public override string ToString() => Kind switch
    {
        _ when IsNull => $"{Kind} (null)",
        RedisValueKind.BulkString => $"BulkString ({((byte[])_payload!).Length.ToString(CultureInfo.InvariantCulture)} bytes)",
        RedisValueKind.Array or RedisValueKind.Map or RedisValueKind.Set or RedisValueKind.Push
            => $"{Kind} ({((RedisValue[])_payload!).Length.ToString(CultureInfo.InvariantCulture)})",
        _ => $"{Kind} {AsString()}",
    };
}
