using System.Buffers.Binary;

namespace Tessera.Redis;

/// <summary>
/// Reads a lookup script's packed answer (see <see cref="RedisScripts.LoadByCredential"/>): the script hands its values
/// to Redis's built-in <c>cmsgpack.pack</c>, so the answer is MessagePack strings, the session hash's fields and values
/// inside one array, and this reads them as one flat run of values (an array's header is stepped over). One string per
/// lookup instead of a nested array costs the client one reply object instead of one per field and value of the hash.
/// </summary>
/// <remarks>
/// Only what <c>cmsgpack</c> writes for Lua strings and tables of them is read: str (fixstr, str 8, 16, 32), bin (8, 16,
/// 32) and array (fixarray, array 16, 32) headers. Anything else (a number, a map, nil) means the reply is not one of
/// the store's, and is refused.
/// </remarks>
internal ref struct RedisPackedReply
{
    private ReadOnlySpan<byte> _rest;

    /// <summary>Starts reading <paramref name="packed"/> from its first value.</summary>
    public RedisPackedReply(ReadOnlySpan<byte> packed) => _rest = packed;

    /// <summary>Whether every value has been read (true at once for an empty string).</summary>
    public readonly bool IsEmpty => _rest.IsEmpty;

    /// <summary>Reads the next value; <see langword="false"/> when none is left.</summary>
    /// <exception cref="InvalidDataException">The bytes are not a packed reply of strings.</exception>
    public bool TryRead(out ReadOnlySpan<byte> value)
    {
        value = default;
        while (!_rest.IsEmpty)
        {
            var marker = _rest[0];
            switch (marker)
            {
                case >= 0x90 and <= 0x9f:
                    _rest = _rest[1..];
                    continue;
                case 0xdc:
                    Skip(3);
                    continue;
                case 0xdd:
                    Skip(5);
                    continue;
                case >= 0xa0 and <= 0xbf:
                    value = Take(1, marker & 0x1f);
                    return true;
                case 0xd9 or 0xc4:
                    value = Take(2, Header(2)[1]);
                    return true;
                case 0xda or 0xc5:
                    value = Take(3, BinaryPrimitives.ReadUInt16BigEndian(Header(3)[1..]));
                    return true;
                case 0xdb or 0xc6:
                    var length = BinaryPrimitives.ReadUInt32BigEndian(Header(5)[1..]);
                    value = Take(5, length > int.MaxValue ? throw Malformed() : (int)length);
                    return true;
                default:
                    throw Malformed();
            }
        }
        return false;
    }

    /// <summary>Reads the next value, which must be there.</summary>
    /// <exception cref="InvalidDataException">No value is left, or the bytes are not a packed reply of strings.</exception>
    public ReadOnlySpan<byte> Read() =>
        TryRead(out var value) ? value : throw new InvalidDataException("A Redis lookup script's packed reply ended early.");

    private readonly ReadOnlySpan<byte> Header(int size) => _rest.Length >= size ? _rest[..size] : throw Malformed();

    private void Skip(int size) => _rest = _rest[Header(size).Length..];

    private ReadOnlySpan<byte> Take(int header, int length)
    {
        if (length > _rest.Length - header)
        {
            throw Malformed();
        }
        var value = _rest.Slice(header, length);
        _rest = _rest[(header + length)..];
        return value;
    }

    private static InvalidDataException Malformed() =>
        new("A Redis lookup script answered bytes that are not a packed reply of strings.");
}
