using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Logging;

namespace Tessera.Testing;

/// <summary>
/// Finds recognisable slices of secrets in log text: any 16 consecutive characters of a secret (with at least four
/// distinct characters, so a run of padding or spaces, which identifies nothing, does not count). The log is indexed
/// once by a rolling hash of every 16-character window, so checking many credentials stays cheap. Given an alphabet,
/// only windows made wholly of its characters count, on both sides: indexing a hundred thousand log lines then costs
/// almost nothing, because log prose rarely has 16 base64url characters in a row.
/// </summary>
internal sealed class HostileLogScan
{
    /// <summary>The length of a slice that counts as recognisable.</summary>
    public const int SliceLength = 16;

    private const ulong Multiplier = 0x100000001B3;

    private static readonly ulong Power = ComputePower();

    private readonly HashSet<ulong> _windows = [];
    private readonly IReadOnlyList<FakeLogRecord> _entries;
    private readonly Func<int, FakeLogRecord, bool>? _include;
    private readonly Func<char, bool>? _alphabet;

    /// <summary>Indexes the entries that <paramref name="include"/> accepts (by position and entry).</summary>
    /// <param name="entries">The log.</param>
    /// <param name="include">Which entries to index, or <see langword="null"/> for all.</param>
    /// <param name="alphabet">The characters a slice is made of, or <see langword="null"/> for any.</param>
    public HostileLogScan(IReadOnlyList<FakeLogRecord> entries, Func<int, FakeLogRecord, bool>? include = null, Func<char, bool>? alphabet = null)
    {
        _entries = entries;
        _include = include;
        _alphabet = alphabet;
        // Without an alphabet every window counts, so identical lines are indexed once; with one, a line holds a window
        // only in a long run of its characters, and scanning for those is cheaper than comparing lines.
        var seen = alphabet is null ? new HashSet<string>(StringComparer.Ordinal) : null;
        for (var i = 0; i < entries.Count; i++)
        {
            if (include is not null && !include(i, entries[i]))
            {
                continue;
            }
            foreach (var text in (ReadOnlySpan<string?>)[entries[i].Message, entries[i].Exception?.ToString()])
            {
                if (text is not null && (seen is null || seen.Add(text)))
                {
                    foreach (var (_, hash) in Windows(text))
                    {
                        _windows.Add(hash);
                    }
                }
            }
        }
    }

    /// <summary>The characters of base64url and the dot: what every cookie and token is made of.</summary>
    public static bool IsCredentialCharacter(char c) => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.';

    /// <summary>An entry's message and exception text.</summary>
    public static string Text(FakeLogRecord entry) => entry.Message + "\n" + entry.Exception;

    /// <summary>Whether an entry reports an exception escaping a request or a failure of Tessera itself.</summary>
    public static bool IsFailure(FakeLogRecord entry) =>
        entry.Level >= LogLevel.Error
        || (entry.Exception is not null && entry.Category?.StartsWith("Tessera", StringComparison.Ordinal) == true);

    /// <summary>The first indexed entry holding a recognisable slice of <paramref name="secret"/>, or <see langword="null"/>.</summary>
    public (int Entry, string Slice)? Find(string secret)
    {
        foreach (var (start, hash) in Windows(secret))
        {
            if (!_windows.Contains(hash))
            {
                continue;
            }
            var slice = secret.Substring(start, SliceLength);
            if (!IsRecognisable(slice))
            {
                continue;
            }
            for (var i = 0; i < _entries.Count; i++)
            {
                if ((_include is null || _include(i, _entries[i]))
                    && (_entries[i].Message.Contains(slice, StringComparison.Ordinal) || _entries[i].Exception?.ToString().Contains(slice, StringComparison.Ordinal) == true))
                {
                    return (i, slice);
                }
            }
        }
        return null;
    }

    /// <summary>A recognisable slice of <paramref name="secret"/> that <paramref name="text"/> contains, or <see langword="null"/>.</summary>
    public static string? FindIn(string text, string secret)
    {
        for (var start = 0; start + SliceLength <= secret.Length; start++)
        {
            var slice = secret.AsSpan(start, SliceLength);
            if (text.AsSpan().IndexOf(slice, StringComparison.Ordinal) >= 0 && IsRecognisable(slice))
            {
                return slice.ToString();
            }
        }
        return null;
    }

    private static bool IsRecognisable(ReadOnlySpan<char> slice)
    {
        Span<char> distinct = stackalloc char[4];
        var count = 0;
        foreach (var c in slice)
        {
            if (distinct[..count].IndexOf(c) < 0)
            {
                distinct[count++] = c;
                if (count == distinct.Length)
                {
                    return true;
                }
            }
        }
        return false;
    }

    private IEnumerable<(int Start, ulong Hash)> Windows(string text)
    {
        ulong hash = 0;
        var run = 0;
        for (var i = 0; i < text.Length; i++)
        {
            if (_alphabet is not null && !_alphabet(text[i]))
            {
                (hash, run) = (0, 0);
                continue;
            }
            unchecked
            {
                hash = (hash * Multiplier) + text[i];
                if (run >= SliceLength)
                {
                    hash -= text[i - SliceLength] * Power;
                }
            }
            if (++run >= SliceLength)
            {
                yield return (i - SliceLength + 1, hash);
            }
        }
    }

    private static ulong ComputePower()
    {
        ulong power = 1;
        for (var i = 0; i < SliceLength; i++)
        {
            power = unchecked(power * Multiplier);
        }
        return power;
    }
}
