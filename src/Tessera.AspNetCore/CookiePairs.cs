using Microsoft.Extensions.Primitives;

namespace Tessera.AspNetCore;

/// <summary>
/// Walks the <c>name=value</c> pairs of a request's <c>Cookie</c> headers, strictly and without allocating: pairs are
/// split on <c>;</c>, whitespace around a pair is trimmed, nothing is decoded or unquoted, and a pair without <c>=</c>
/// is skipped. Headers that do not contain <c>mustContain</c> are skipped whole, so the common request costs one
/// substring search per header. Shared by the session cookie's reader and the cookie store's chunk reader, so the two
/// can never disagree about what a cookie header says.
/// </summary>
internal ref struct CookiePairs
{
    private readonly StringValues _headers;
    private readonly string _mustContain;
    private int _header;
    private ReadOnlySpan<char> _rest;

    public CookiePairs(StringValues headers, string mustContain)
    {
        _headers = headers;
        _mustContain = mustContain;
        _header = -1;
        _rest = default;
        Name = default;
        Value = default;
    }

    /// <summary>The current pair's name, as sent.</summary>
    public ReadOnlySpan<char> Name { get; private set; }

    /// <summary>The current pair's value, as sent (possibly empty).</summary>
    public ReadOnlySpan<char> Value { get; private set; }

    public bool MoveNext()
    {
        while (true)
        {
            while (_rest.IsEmpty)
            {
                if (++_header >= _headers.Count)
                {
                    return false;
                }
                if (_headers[_header] is { } header && header.Contains(_mustContain, StringComparison.Ordinal))
                {
                    _rest = header.AsSpan();
                }
            }
            var end = _rest.IndexOf(';');
            var pair = (end < 0 ? _rest : _rest[..end]).Trim(" \t");
            _rest = end < 0 ? default : _rest[(end + 1)..];
            var equals = pair.IndexOf('=');
            if (equals >= 0)
            {
                Name = pair[..equals];
                Value = pair[(equals + 1)..];
                return true;
            }
        }
    }
}
