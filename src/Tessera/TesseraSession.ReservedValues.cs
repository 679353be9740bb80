using System.Diagnostics.CodeAnalysis;

namespace Tessera;

// Values that Tessera's own packages keep in a session under the reserved "tessera:" prefix (such as the ASP.NET Core
// package's cookie-authentication tickets): hidden from Keys, counted against MaxDataBytes, cleared with the other data.
public partial class TesseraSession
{
    /// <summary>Reads a reserved value's JSON; <paramref name="name"/> goes after the reserved prefix.</summary>
    internal bool TryGetReservedJson(string name, [NotNullWhen(true)] out string? json) => TryGetJson(SessionKeys.ReservedPrefix + name, out json);

    /// <summary>The signed-in principal's JSON (<see cref="SessionKeys.PrincipalKey"/>), read on every authenticated request: no key to build.</summary>
    internal bool TryGetPrincipalJson([NotNullWhen(true)] out string? json) => TryGetJson(SessionKeys.PrincipalKey, out json);

    /// <summary>Sets a reserved value's JSON (already valid JSON); committed with the other changes.</summary>
    internal void SetReservedJson(string name, string json) => SetJson(SessionKeys.ReservedPrefix + name, json);

    /// <summary>Removes a reserved value; a missing one is a no-op that writes nothing.</summary>
    internal void RemoveReserved(string name) => RemoveKey(SessionKeys.ReservedPrefix + name);

    /// <summary>Whether any reserved value whose name starts with <paramref name="prefix"/> exists, other than <paramref name="except"/>.</summary>
    internal bool HasOtherReserved(string prefix, string except)
    {
        var start = SessionKeys.ReservedPrefix + prefix;
        var skip = SessionKeys.ReservedPrefix + except;
        return StoredKeys().Any(k => k.StartsWith(start, StringComparison.Ordinal) && !string.Equals(k, skip, StringComparison.Ordinal));
    }
}
