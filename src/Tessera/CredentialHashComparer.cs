using System.Buffers.Binary;

namespace Tessera;

/// <summary>
/// Compares credential hashes by their bytes, and looks them up by a span so a lookup allocates nothing
/// (<see cref="Dictionary{TKey, TValue}.GetAlternateLookup{TAlternateKey}"/>).
/// </summary>
/// <remarks>
/// The hash code is the first 8 bytes of the hash. They are SHA-256 output of tokens the server issued, so they are
/// already uniform, and a client cannot choose them: a lookup with a crafted hash only walks a bucket of stored, random
/// ones. Hashes shorter than 8 bytes (never made by Tessera) are hashed whole.
/// </remarks>
internal sealed class CredentialHashComparer : IEqualityComparer<byte[]>, IAlternateEqualityComparer<ReadOnlySpan<byte>, byte[]>
{
    /// <summary>The one instance; the comparer has no state.</summary>
    public static CredentialHashComparer Instance { get; } = new();

    private CredentialHashComparer()
    {
    }

    /// <inheritdoc />
    public bool Equals(byte[]? x, byte[]? y) =>
        ReferenceEquals(x, y) || (x is not null && y is not null && x.AsSpan().SequenceEqual(y));

    /// <inheritdoc />
    public int GetHashCode(byte[] obj)
    {
        ArgumentNullException.ThrowIfNull(obj);
        return Hash(obj);
    }

    /// <inheritdoc />
    public bool Equals(ReadOnlySpan<byte> alternate, byte[] other) => other is not null && alternate.SequenceEqual(other);

    /// <inheritdoc />
    public int GetHashCode(ReadOnlySpan<byte> alternate) => Hash(alternate);

    /// <inheritdoc />
    public byte[] Create(ReadOnlySpan<byte> alternate) => alternate.ToArray();

    private static int Hash(ReadOnlySpan<byte> hash)
    {
        if (hash.Length >= sizeof(long))
        {
            var head = BinaryPrimitives.ReadInt64LittleEndian(hash);
            return (int)head ^ (int)(head >> 32);
        }
        var code = new HashCode();
        code.AddBytes(hash);
        return code.ToHashCode();
    }
}
