using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;

namespace Tessera.AspNetCore.CookieStore;

/// <summary>
/// The cookie store's encryption keys, derived from the signing key ring (<see cref="TesseraOptions.Keys"/>) with
/// HKDF-SHA256 under their own purpose label, so they never equal a signing key and rotation is the signing keys'
/// procedure: the first key encrypts, every key decrypts, and the blob names its key.
/// </summary>
/// <remarks>
/// A sealed blob is <c>version (1 byte) | key id (4 bytes) | nonce (12 bytes) | ciphertext | tag (16 bytes)</c>,
/// AES-256-GCM with a random 96-bit nonce; the associated data is the version, the key id and the session's credential
/// hash, so a blob only opens next to the credential it was written for. The key id is the first 4 bytes of the
/// SHA-256 of the derived key: it names a key without revealing it.
/// </remarks>
internal sealed class CookieEncryptionKeys
{
    public const byte Version = 1;
    public const int HeaderBytes = 1 + KeyIdBytes + NonceBytes;
    public const int OverheadBytes = HeaderBytes + TagBytes;

    private const int KeyIdBytes = 4;
    private const int NonceBytes = 12;
    private const int TagBytes = 16;
    private const int HashBytes = 32;

    private static readonly byte[] Purpose = Encoding.ASCII.GetBytes("Tessera cookie store v1");
    // Keyed by the ring's current key list, not the ring: a generated ring (UseDataProtectionKeys) replaces its list as
    // keys rotate, and the derived keys must follow.
    private static readonly ConditionalWeakTable<IReadOnlyList<SigningKey>, CookieEncryptionKeys> Derived = [];

    private readonly (uint Id, byte[] Key)[] _keys;

    private CookieEncryptionKeys(IReadOnlyList<SigningKey> ring)
    {
        _keys = [.. ring.Select(k =>
        {
            var key = HKDF.DeriveKey(HashAlgorithmName.SHA256, k.Material, 32, salt: [], info: Purpose);
            return (BinaryPrimitives.ReadUInt32BigEndian(SHA256.HashData(key)), key);
        })];
    }

    /// <summary>The encryption keys of a signing key ring, derived once per set of keys the ring holds.</summary>
    public static CookieEncryptionKeys For(SigningKeyRing ring) => Derived.GetValue(ring.Keys, static keys => new CookieEncryptionKeys(keys));

    /// <summary>Encrypts <paramref name="plaintext"/> under the first key, bound to <paramref name="credentialHash"/>.</summary>
    public byte[] Seal(ReadOnlySpan<byte> plaintext, ReadOnlySpan<byte> credentialHash)
    {
        var (id, key) = _keys[0];
        var sealedBlob = new byte[OverheadBytes + plaintext.Length];
        sealedBlob[0] = Version;
        BinaryPrimitives.WriteUInt32BigEndian(sealedBlob.AsSpan(1, KeyIdBytes), id);
        var nonce = sealedBlob.AsSpan(1 + KeyIdBytes, NonceBytes);
        RandomNumberGenerator.Fill(nonce);
        Span<byte> associated = stackalloc byte[1 + KeyIdBytes + HashBytes];
        Associated(sealedBlob, credentialHash, associated);
        using var aes = new AesGcm(key, TagBytes);
        aes.Encrypt(nonce, plaintext, sealedBlob.AsSpan(HeaderBytes, plaintext.Length), sealedBlob.AsSpan(HeaderBytes + plaintext.Length), associated);
        return sealedBlob;
    }

    /// <summary>
    /// Decrypts a blob written for <paramref name="credentialHash"/>; <see langword="null"/> when its version or key is
    /// unknown, it is too short, or its tag does not verify (tampered, truncated, another credential's, or a mix of
    /// chunks). Never throws for bad input.
    /// </summary>
    public byte[]? Open(ReadOnlySpan<byte> sealedBlob, ReadOnlySpan<byte> credentialHash)
    {
        if (sealedBlob.Length < OverheadBytes || sealedBlob[0] != Version || credentialHash.Length != HashBytes)
        {
            return null;
        }
        var id = BinaryPrimitives.ReadUInt32BigEndian(sealedBlob.Slice(1, KeyIdBytes));
        Span<byte> associated = stackalloc byte[1 + KeyIdBytes + HashBytes];
        Associated(sealedBlob, credentialHash, associated);
        var length = sealedBlob.Length - OverheadBytes;
        var plaintext = new byte[length];
        foreach (var (keyId, key) in _keys)
        {
            // Two keys of one ring sharing an id (one chance in four billion) are both tried.
            if (keyId != id)
            {
                continue;
            }
            using var aes = new AesGcm(key, TagBytes);
            try
            {
                aes.Decrypt(sealedBlob.Slice(1 + KeyIdBytes, NonceBytes), sealedBlob.Slice(HeaderBytes, length), sealedBlob[(HeaderBytes + length)..], plaintext, associated);
                return plaintext;
            }
            catch (AuthenticationTagMismatchException)
            {
            }
        }
        return null;
    }

    private static void Associated(ReadOnlySpan<byte> sealedBlob, ReadOnlySpan<byte> credentialHash, Span<byte> destination)
    {
        sealedBlob[..(1 + KeyIdBytes)].CopyTo(destination);
        credentialHash.CopyTo(destination[(1 + KeyIdBytes)..]);
    }
}
