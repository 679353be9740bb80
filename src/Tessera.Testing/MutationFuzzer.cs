using System.Text;

namespace Tessera.Testing;

/// <summary>A valid credential the fuzzer mutates, the channel it belongs to, and its session.</summary>
internal sealed record MutationSource(string Name, HostileChannel Channel, string Credential, string SessionId);

/// <summary>One mutated credential: its index in the run, where it came from, how it was made and where it is sent.</summary>
internal sealed record Mutation(int Index, MutationSource Source, HostileChannel Channel, string Text, string Operations)
{
    /// <summary>Whether the mutation left the credential exactly as it was.</summary>
    public bool IsUnchanged => Channel == Source.Channel && string.Equals(Text, Source.Credential, StringComparison.Ordinal);
}

/// <summary>
/// Seeded mutations of valid credentials: bit flips, inserted and deleted characters, truncation, duplicated, swapped
/// and re-spelled segments, case changes, random base64url characters, non-canonical last characters, padding,
/// splices of two credentials. One to three operations per mutation. The sequence depends only on the seed and the
/// shapes of the sources, so a seed replays the same operations; NUL, CR and LF are never produced (Kestrel refuses
/// them before Tessera runs; the table covers those).
/// </summary>
internal sealed class MutationFuzzer(int seed, IReadOnlyList<MutationSource> sources)
{
    private const string Base64Url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    private static readonly string[] Exotic = ["\t", "\u0001", "\u001B", "\u007F", "é", "中", "\U0001F600", "\u200B", "\uFEFF", "\u00A0", "%", "\"", ";", ",", " ", "=", ".", "\\"];

    private static readonly HostileChannel[] Channels = [HostileChannel.Cookie, HostileChannel.Bearer, HostileChannel.Refresh];

    private readonly Random _random = new(seed);

    /// <summary>The next mutation (deterministic for a seed: call it in order).</summary>
    public Mutation Next(int index)
    {
        var source = sources[_random.Next(sources.Count)];
        var text = source.Credential;
        var operations = new List<string>();
        var count = _random.Next(10) switch
        {
            < 7 => 1,
            < 9 => 2,
            _ => 3,
        };
        for (var i = 0; i < count; i++)
        {
            (text, var operation) = Mutate(text);
            operations.Add(operation);
        }
        // Now and then the credential goes where it does not belong: a cookie as a bearer token, a token as a cookie.
        var channel = _random.Next(100) < 85 ? source.Channel : Channels[_random.Next(Channels.Length)];
        return new Mutation(index, source, channel, text, string.Join(" + ", operations));
    }

    private (string Text, string Operation) Mutate(string text)
    {
        if (text.Length == 0)
        {
            return (RandomBase64Url(1 + _random.Next(8)), "from-empty");
        }
        var at = _random.Next(text.Length);
        switch (_random.Next(16))
        {
            case 0:
            case 1:
                return FlipBit(text, at);
            case 2:
                {
                    var insertion = RandomInsertion();
                    return (text.Insert(_random.Next(text.Length + 1), insertion), $"insert({Show(insertion)})");
                }
            case 3:
                {
                    var length = Math.Min(1 + _random.Next(3), text.Length - at);
                    return (text.Remove(at, length), $"delete({at},{length})");
                }
            case 4:
                return _random.Next(3) == 0 ? (text[at..], $"drop-prefix({at})") : (text[..at], $"truncate({at})");
            case 5:
                {
                    var parts = text.Split('.').ToList();
                    var k = _random.Next(parts.Count);
                    parts.Insert(k, parts[k]);
                    return (string.Join('.', parts), $"duplicate-segment({k})");
                }
            case 6:
                return SwapSegment(text);
            case 7:
                return ChangeCase(text);
            case 8:
                {
                    var chars = text.ToCharArray();
                    var n = 1 + _random.Next(3);
                    for (var i = 0; i < n; i++)
                    {
                        chars[_random.Next(chars.Length)] = Base64Url[_random.Next(64)];
                    }
                    return (new string(chars), $"random-base64url({n})");
                }
            case 9:
                {
                    var parts = text.Split('.');
                    var k = _random.Next(parts.Length);
                    if (parts[k].Length == 0 || Base64Url.IndexOf(parts[k][^1], StringComparison.Ordinal) < 0)
                    {
                        return (text + "=", "pad");
                    }
                    var by = 1 + _random.Next(3);
                    parts[k] = HostileCredentials.BumpLastChar(parts[k], by);
                    return (string.Join('.', parts), $"noncanonical-last({k},+{by})");
                }
            case 10:
                {
                    var dot = text.IndexOf('.', at);
                    return dot >= 0 ? (text.Remove(dot, 1), $"remove-dot({dot})") : (text.Insert(at, "."), $"insert-dot({at})");
                }
            case 11:
                return _random.Next(2) == 0
                    ? (text + (_random.Next(2) == 0 ? "=" : "=="), "padding")
                    : (text.Replace('-', '+').Replace('_', '/'), "standard-alphabet");
            case 12:
                {
                    var other = sources[_random.Next(sources.Count)].Credential;
                    var separator = new[] { string.Empty, ".", " ", ";" }[_random.Next(4)];
                    return _random.Next(2) == 0 ? (text + separator + other, $"append-other({Show(separator)})") : (other + separator + text, $"prepend-other({Show(separator)})");
                }
            case 13:
                {
                    if (at + 1 >= text.Length)
                    {
                        return (text, "swap-adjacent(none)");
                    }
                    var chars = text.ToCharArray();
                    (chars[at], chars[at + 1]) = (chars[at + 1], chars[at]);
                    return (new string(chars), $"swap-adjacent({at})");
                }
            case 14:
                return (text.Insert(at, new string(text[at], 1 + _random.Next(3))), $"repeat-char({at})");
            default:
                // A mutation that changes nothing now and then, so the run proves that a valid credential still works.
                return _random.Next(8) == 0 ? (text, "identity") : (text.Insert(at, RandomBase64Url(1 + _random.Next(4))), $"insert-base64url({at})");
        }
    }

    private (string, string) FlipBit(string text, int at)
    {
        var c = text[at];
        if (c >= 0x80)
        {
            return (HostileCredentials.Replace(text, at, Base64Url[_random.Next(64)].ToString()), $"replace-non-ascii({at})");
        }
        var bit = _random.Next(7);
        for (var tries = 0; tries < 7; tries++, bit = (bit + 1) % 7)
        {
            var flipped = (char)(c ^ (1 << bit));
            if (flipped is not ('\0' or '\r' or '\n'))
            {
                return (HostileCredentials.FlipBit(text, at, bit), $"flip({at},bit{bit})");
            }
        }
        return (text, "flip(none)");
    }

    private (string, string) SwapSegment(string text)
    {
        var parts = text.Split('.');
        var other = sources[_random.Next(sources.Count)].Credential.Split('.');
        var k = _random.Next(Math.Min(parts.Length, other.Length));
        parts[k] = other[k];
        return (string.Join('.', parts), $"swap-segment({k})");
    }

    private (string, string) ChangeCase(string text)
    {
        switch (_random.Next(4))
        {
            case 0:
                return (text.ToUpperInvariant(), "upper-case");
            case 1:
                return (text.ToLowerInvariant(), "lower-case");
            default:
                var chars = text.ToCharArray();
                var n = 1 + _random.Next(4);
                for (var i = 0; i < n; i++)
                {
                    var at = _random.Next(chars.Length);
                    chars[at] = char.IsUpper(chars[at]) ? char.ToLowerInvariant(chars[at]) : char.ToUpperInvariant(chars[at]);
                }
                return (new string(chars), $"toggle-case({n})");
        }
    }

    private string RandomInsertion() => _random.Next(10) switch
    {
        < 6 => Base64Url[_random.Next(64)].ToString(),
        < 9 => ((char)(0x20 + _random.Next(0x5F))).ToString(),
        _ => Exotic[_random.Next(Exotic.Length)],
    };

    private string RandomBase64Url(int length)
    {
        var builder = new StringBuilder(length);
        for (var i = 0; i < length; i++)
        {
            builder.Append(Base64Url[_random.Next(64)]);
        }
        return builder.ToString();
    }

    /// <summary>A text with its control and non-ASCII characters escaped, cut to a readable length, for failure messages.</summary>
    public static string Show(string text, int max = 200)
    {
        var builder = new StringBuilder();
        foreach (var c in text.Length > max ? text[..max] : text)
        {
            builder.Append(c is < ' ' or > '~' ? $"\\u{(int)c:X4}" : c.ToString());
        }
        if (text.Length > max)
        {
            builder.Append($"...({text.Length} chars)");
        }
        return builder.ToString();
    }
}
