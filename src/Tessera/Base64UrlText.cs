using System.Buffers;
using System.Buffers.Text;

namespace Tessera;

/// <summary>Strict base64url (no padding) helpers: only the canonical encoding of a value decodes.</summary>
internal static class Base64UrlText
{
    public static string Encode(ReadOnlySpan<byte> bytes) => Base64Url.EncodeToString(bytes);

    /// <summary>
    /// Decodes exactly <paramref name="destination"/>.Length bytes. Rejects any other length, characters outside the
    /// alphabet, padding, and non-canonical text (unused trailing bits set), so one flipped character never decodes
    /// to the same bytes.
    /// </summary>
    public static bool TryDecodeExact(ReadOnlySpan<char> text, Span<byte> destination)
    {
        if (text.Length != Base64Url.GetEncodedLength(destination.Length))
        {
            return false;
        }
        foreach (var c in text)
        {
            if (!IsAlphabet(c))
            {
                return false;
            }
        }
        // DecodeFromChars, not TryDecodeFromChars: the latter throws FormatException when the last character has
        // unused bits set, which would turn a crafted credential into an unhandled exception instead of a rejection.
        if (Base64Url.DecodeFromChars(text, destination, out var consumed, out var written) != OperationStatus.Done
            || consumed != text.Length
            || written != destination.Length)
        {
            return false;
        }
        Span<char> again = stackalloc char[text.Length];
        return Base64Url.TryEncodeToChars(destination, again, out var charsWritten)
            && charsWritten == text.Length
            && again.SequenceEqual(text);
    }

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
        if (text.Length % 4 == 1 || destination.Length < Base64Url.GetMaxDecodedLength(text.Length))
        {
            return false;
        }
        foreach (var c in text)
        {
            if (!IsAlphabet(c))
            {
                return false;
            }
        }
        if (Base64Url.DecodeFromChars(text, destination, out var consumed, out written) != OperationStatus.Done
            || consumed != text.Length)
        {
            return false;
        }
        // Canonical: encoding the bytes again gives the same text (no stray bits in the last character).
        var again = ArrayPool<char>.Shared.Rent(Math.Max(1, text.Length));
        try
        {
            return Base64Url.TryEncodeToChars(destination[..written], again, out var charsWritten)
                && again.AsSpan(0, charsWritten).SequenceEqual(text);
        }
        finally
        {
            ArrayPool<char>.Shared.Return(again);
        }
    }

    private static bool IsAlphabet(char c) =>
        c is (>= 'A' and <= 'Z') or (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-' or '_';
}
