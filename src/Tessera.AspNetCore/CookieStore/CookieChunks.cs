using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace Tessera.AspNetCore.CookieStore;

/// <summary>
/// The chunk cookies <c>&lt;name&gt;.0</c>, <c>&lt;name&gt;.1</c>, ... that carry a sealed session: reading them from a
/// request, strictly, and writing a new set (and deleting the ones a shorter value no longer needs) as
/// <c>Set-Cookie</c> headers each of which, attributes included, fits in <see cref="MaxSetCookieBytes"/>.
/// </summary>
internal static class CookieChunks
{
    /// <summary>The most bytes one <c>Set-Cookie</c> value may have: name, value and every attribute together.</summary>
    public const int MaxSetCookieBytes = 4096;

    /// <summary>
    /// Chunk indices beyond this are neither read nor deleted: 32 chunks would be 128 KB of cookies, four times what
    /// Kestrel accepts in a request's headers, so such a cookie was never written by this store.
    /// </summary>
    public const int MaxIndex = 32;

    /// <summary>What a request carried.</summary>
    /// <param name="Text">The chunks 0, 1, ... up to the first missing one, joined; <see langword="null"/> when chunk 0 is absent or a chunk was sent twice with different values.</param>
    /// <param name="Indices">A bit per chunk index the request carried (valid or not), for deleting stale chunks.</param>
    public readonly record struct RequestChunks(string? Text, ulong Indices);

    public static RequestChunks Read(HttpRequest request, string cookieName)
    {
        string?[]? chunks = null;
        ulong carried = 0;
        var ambiguous = false;
        for (var pairs = new CookiePairs(request.Headers.Cookie, cookieName); pairs.MoveNext();)
        {
            if (!TryIndex(pairs.Name, cookieName, out var index))
            {
                continue;
            }
            carried |= 1UL << index;
            var value = pairs.Value;
            if (value.IsEmpty)
            {
                continue;
            }
            chunks ??= new string?[MaxIndex];
            if (chunks[index] is null)
            {
                chunks[index] = value.ToString();
            }
            else if (!value.SequenceEqual(chunks[index]))
            {
                ambiguous = true;
            }
        }
        if (chunks?[0] is null || ambiguous)
        {
            return new RequestChunks(null, carried);
        }
        var count = 0;
        while (count < MaxIndex && chunks[count] is not null)
        {
            count++;
        }
        return new RequestChunks(count == 1 ? chunks[0] : string.Concat(chunks.AsSpan(0, count)!), carried);
    }

    /// <summary>
    /// Splits <paramref name="text"/> into chunk values whose <c>Set-Cookie</c> headers, with the attributes of
    /// <paramref name="template"/>, each fit in <see cref="MaxSetCookieBytes"/>; <see langword="null"/> when that takes
    /// more than <paramref name="maxChunks"/> chunks.
    /// </summary>
    public static List<string>? Split(string text, string cookieName, SetCookieHeaderValue template, int maxChunks)
    {
        if (Lengths(text.Length, cookieName, template, maxChunks) is not { } lengths)
        {
            return null;
        }
        var chunks = new List<string>(lengths.Count);
        var offset = 0;
        foreach (var length in lengths)
        {
            chunks.Add(text.Substring(offset, length));
            offset += length;
        }
        return chunks;
    }

    /// <summary>
    /// The lengths of the chunks a text of <paramref name="textLength"/> characters splits into (see
    /// <see cref="Split"/>); <see langword="null"/> when that takes more than <paramref name="maxChunks"/> chunks.
    /// </summary>
    public static List<int>? Lengths(int textLength, string cookieName, SetCookieHeaderValue template, int maxChunks)
    {
        var lengths = new List<int>(Math.Min(maxChunks, 4));
        var offset = 0;
        while (offset < textLength)
        {
            if (lengths.Count == maxChunks)
            {
                return null;
            }
            var room = MaxSetCookieBytes - Format(template, ChunkName(cookieName, lengths.Count), string.Empty).Length;
            if (room <= 0)
            {
                return null;
            }
            var length = Math.Min(room, textLength - offset);
            lengths.Add(length);
            offset += length;
        }
        return lengths;
    }

    /// <summary>The room one chunk has for its value under <paramref name="template"/>'s attributes.</summary>
    public static int Room(string cookieName, SetCookieHeaderValue template) =>
        MaxSetCookieBytes - Format(template, ChunkName(cookieName, 0), string.Empty).Length;

    /// <summary>
    /// Replaces the chunk cookies this request's response sets: removes the <c>Set-Cookie</c> values written earlier in
    /// the request (<paramref name="written"/>), appends one per chunk and a deletion for every chunk the request carried
    /// beyond them, and marks the response <c>no-store</c>. Returns what it appended.
    /// </summary>
    public static List<string> Write(HttpResponse response, string cookieName, SetCookieHeaderValue template, IReadOnlyList<string> chunks, ulong carried, List<string>? written)
    {
        EnsureNotStarted(response);
        var headers = response.Headers;
        var existing = headers.SetCookie;
        if (written is { Count: > 0 } && existing.Count > 0)
        {
            var kept = new List<string?>(existing.Count);
            foreach (var value in existing)
            {
                if (!written.Remove(value!))
                {
                    kept.Add(value);
                }
            }
            existing = new StringValues([.. kept]);
        }
        var appended = new List<string>(chunks.Count + 1);
        for (var i = 0; i < chunks.Count; i++)
        {
            appended.Add(Format(template, ChunkName(cookieName, i), chunks[i]));
        }
        var deletion = Deletion(template);
        for (var i = chunks.Count; i < MaxIndex; i++)
        {
            if ((carried & (1UL << i)) != 0)
            {
                appended.Add(Format(deletion, ChunkName(cookieName, i), string.Empty));
            }
        }
        headers.SetCookie = StringValues.Concat(existing, new StringValues([.. appended]));
        if (appended.Count > 0)
        {
            headers.CacheControl = "no-store";
            headers.Pragma = "no-cache";
        }
        return appended;
    }

    /// <summary>Throws when the response has started, so that a write that cannot reach the browser changes nothing anywhere.</summary>
    /// <exception cref="InvalidOperationException">The response has started.</exception>
    public static void EnsureNotStarted(HttpResponse response)
    {
        if (response.HasStarted)
        {
            throw new InvalidOperationException("The cookie session store cannot write its cookies: the response has already started. Tessera commits the session before the first byte of the response; a store write after that cannot reach the browser.");
        }
    }

    /// <summary>The attributes of a chunk cookie: the session cookie's own (<see cref="TesseraCookieOptions"/>).</summary>
    public static SetCookieHeaderValue Template(HttpRequest request, TesseraCookieOptions options, DateTimeOffset? absoluteExpiresAt) => new(string.Empty)
    {
        Path = options.Path,
        Domain = options.Domain,
        Secure = options.SecurePolicy switch
        {
            CookieSecurePolicy.Always => true,
            CookieSecurePolicy.None => false,
            _ => request.IsHttps,
        },
        HttpOnly = true,
        SameSite = (Microsoft.Net.Http.Headers.SameSiteMode)(int)options.SameSite,
        Expires = options.Persistent ? absoluteExpiresAt : null,
    };

    public static string ChunkName(string cookieName, int index) => cookieName + "." + index.ToString(CultureInfo.InvariantCulture);

    private static SetCookieHeaderValue Deletion(SetCookieHeaderValue template) => new(string.Empty)
    {
        Path = template.Path,
        Domain = template.Domain,
        Secure = template.Secure,
        HttpOnly = true,
        SameSite = template.SameSite,
        Expires = DateTimeOffset.UnixEpoch,
    };

    private static string Format(SetCookieHeaderValue template, string name, string value)
    {
        template.Name = name;
        template.Value = value;
        return template.ToString();
    }

    // "<name>.<index>" with the index in canonical decimal (no sign, no leading zero), below MaxIndex.
    private static bool TryIndex(ReadOnlySpan<char> name, string cookieName, out int index)
    {
        index = -1;
        if (name.Length < cookieName.Length + 2 || name.Length > cookieName.Length + 3
            || !name.StartsWith(cookieName, StringComparison.Ordinal) || name[cookieName.Length] != '.')
        {
            return false;
        }
        var digits = name[(cookieName.Length + 1)..];
        if ((digits.Length > 1 && digits[0] == '0') || !int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out index))
        {
            return false;
        }
        return index < MaxIndex;
    }
}
