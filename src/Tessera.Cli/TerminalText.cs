using System.Buffers;
using System.Globalization;
using System.Text;

namespace Tessera.Cli;

/// <summary>
/// Makes stored text safe to print on a terminal. A session's user agent, subject, label and data are whatever a client
/// or an application put there: printed raw, <c>ESC ] 0 ; ... BEL</c> retitles the operator's terminal, <c>ESC [ 2 J</c>
/// clears it, and a bidi override (U+202E) makes a line read differently from what it holds.
/// </summary>
internal static class TerminalText
{
    // C0 (U+0000-U+001F), DEL and C1 (U+007F-U+009F): char.IsControl's set. The bidi formatting characters: ALM, LRM,
    // RLM, the embeddings and overrides (U+202A-U+202E) and the isolates (U+2066-U+2069). U+2028 and U+2029 end a line.
    private static readonly SearchValues<char> Unsafe = SearchValues.Create(
        string.Concat(Enumerable.Range(0, 0x20).Concat(Enumerable.Range(0x7F, 0x21)).Select(i => (char)i))
        + "\u061C\u200E\u200F\u2028\u2029\u202A\u202B\u202C\u202D\u202E\u2066\u2067\u2068\u2069");

    /// <summary>
    /// <paramref name="text"/> with every C0 control (tab and newline too, which would break a table's row), DEL, C1
    /// control, bidi embedding, override and isolate character, and line or paragraph separator replaced by a visible
    /// escape: <c>\x1B</c> for a control, <c>\u202E</c> for the others. Everything else is unchanged; a backslash
    /// stays a single backslash, so the escape is for reading, not for decoding (<c>--json</c> output is exact).
    /// </summary>
    /// <param name="text">The text; <see langword="null"/> gives <see langword="null"/>.</param>
    /// <returns>The printable text, the same instance when nothing needed replacing.</returns>
    public static string? Printable(string? text)
    {
        if (text is null || !text.AsSpan().ContainsAny(Unsafe))
        {
            return text;
        }
        var printable = new StringBuilder(text.Length + 8);
        foreach (var c in text)
        {
            if (!Unsafe.Contains(c))
            {
                printable.Append(c);
            }
            else if (c <= '\u00FF')
            {
                printable.Append(CultureInfo.InvariantCulture, $"\\x{(int)c:X2}");
            }
            else
            {
                printable.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:X4}");
            }
        }
        return printable.ToString();
    }
}
