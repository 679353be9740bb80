using System.Buffers;
using System.Buffers.Text;

namespace Tessera;

/// <summary>Strict base64url (no padding) helpers: only the canonical encoding of a value decodes.</summary>
internal static class Base64UrlText
{
    public static string Encode(ReadOnlySpan<byte> bytes) => Base64Url.EncodeToString(bytes);

    // The 64 characters of base64url, searched with vectorised instructions: credentials and tokens are checked on every
    // request, and a per-character loop was a visible share of a cookie's or a bearer token's cost.
    private static readonly SearchValues<char> Alphabet =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");

    /// <summary>
    /// Decodes exactly <paramref name="destination"/>.Length bytes. Rejects any other length, characters outside the
    /// alphabet, padding, and non-canonical text (unused trailing bits set), so one flipped character never decodes
    /// to the same bytes.
    /// </summary>
    public static bool TryDecodeExact(ReadOnlySpan<char> text, Span<byte> destination) =>
        text.Length == Base64Url.GetEncodedLength(destination.Length)
        && TryDecode(text, destination, out var written)
        && written == destination.Length;

    /// <summary>
    /// Decodes unpadded base64url of any length into <paramref name="destination"/> (which must hold
    /// <see cref="Base64Url.GetMaxDecodedLength"/> bytes), accepting only the canonical encoding: a text whose last
    /// character carries unused bits is refused, so one byte string has exactly one accepted text. Allocates nothing.
    /// </summary>
    /// <param name="text">The text.</param>
    /// <param name="destination">Where the bytes go.</param>
    /// <param name="written">How many bytes were decoded.</param>
    /// <returns><see langword="false"/> for a character outside the alphabet, an impossible length or a non-canonical text.</returns>
    public static bool TryDecode(ReadOnlySpan<char> text, Span<byte> destination, out int written)
    {
        written = 0;
        // The alphabet check comes first: the decoder skips white space, and padding is no part of this encoding.
        if (text.Length % 4 == 1
            || destination.Length < Base64Url.GetMaxDecodedLength(text.Length)
            || text.ContainsAnyExcept(Alphabet)
            || !HasNoStrayBits(text))
        {
            return false;
        }
        // DecodeFromChars, not TryDecodeFromChars: the latter throws FormatException when the last character has
        // unused bits set, which would turn a crafted credential into an unhandled exception instead of a rejection.
        return Base64Url.DecodeFromChars(text, destination, out var consumed, out written) == OperationStatus.Done
            && consumed == text.Length;
    }

    // Canonical means the bits of the last character that no byte uses are zero: a text of 4n + 2 characters ends in
    // 4 unused bits, one of 4n + 3 in 2, and one of 4n in none. Called on alphabet characters only.
    private static bool HasNoStrayBits(ReadOnlySpan<char> text)
    {
        var unusedMask = (text.Length % 4) switch { 2 => 0b1111, 3 => 0b11, _ => 0 };
        return unusedMask == 0 || (SextetOf(text[^1]) & unusedMask) == 0;
    }

    private static int SextetOf(char c) => c switch
    {
        >= 'A' and <= 'Z' => c - 'A',
        >= 'a' and <= 'z' => c - 'a' + 26,
        >= '0' and <= '9' => c - '0' + 52,
        '-' => 62,
        _ => 63,
    };
}
