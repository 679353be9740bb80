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
    /// Decodes text of any length into a new array, with the same strictness as <see cref="TryDecodeExact"/>.
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<char> text, out byte[] bytes)
    {
        bytes = [];
        if (text.Length % 4 == 1)
        {
            return false;
        }
        var length = Base64Url.GetMaxDecodedLength(text.Length);
        var buffer = new byte[length];
        foreach (var c in text)
        {
            if (!IsAlphabet(c))
            {
                return false;
            }
        }
        if (Base64Url.DecodeFromChars(text, buffer, out var consumed, out var written) != System.Buffers.OperationStatus.Done
            || consumed != text.Length)
        {
            return false;
        }
        var decoded = buffer.AsSpan(0, written);
        if (!string.Equals(Base64Url.EncodeToString(decoded), text.ToString(), StringComparison.Ordinal))
        {
            return false;
        }
        bytes = decoded.ToArray();
        return true;
    }

    private static bool IsAlphabet(char c) =>
        c is (>= 'A' and <= 'Z') or (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-' or '_';
}
