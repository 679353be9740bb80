using System.Buffers;
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Security.Claims;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.AspNetCore.Authentication;

namespace Tessera.AspNetCore;

/// <summary>
/// A signed-in principal as the session keeps it, under the reserved key <c>tessera:principal</c>: compact JSON that
/// every store keeps as it keeps any value (PostgreSQL's jsonb may reorder the members, so they are read by name).
/// </summary>
/// <remarks>
/// <code>
/// {"ids":[{"t":"&lt;authentication type&gt;","n":"&lt;name claim type&gt;","r":"&lt;role claim type&gt;",
///          "c":[["&lt;type&gt;","&lt;value&gt;","&lt;value type&gt;","&lt;issuer&gt;","&lt;original issuer&gt;"], ...]}, ...],
///  "items":{"&lt;key&gt;":"&lt;value&gt;", ...}}
/// </code>
/// Defaults are left out: <c>t</c> when the identity has no authentication type, <c>n</c> and <c>r</c> when they are
/// <see cref="ClaimTypes.Name"/> and <see cref="ClaimTypes.Role"/>, and a claim's trailing members when they are
/// <see cref="ClaimValueTypes.String"/>, <see cref="ClaimsIdentity.DefaultIssuer"/> and the issuer again (a member
/// before one that is written is written as <c>null</c>). <c>items</c> are the authentication properties' items.
/// Not kept: claim properties, an identity's label, actor and bootstrap context.
/// </remarks>
internal static class SessionPrincipal
{
    private const string IdentitiesName = "ids";
    private const string ItemsName = "items";
    private const string PersistentItem = ".persistent";
    private const string RedirectItem = ".redirect";

    private static readonly JsonWriterOptions WriterOptions = new()
    {
        // Kept server-side only, never written into a page: escaping only what JSON requires keeps it small.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>
    /// The Tessera subject of a principal, the one rule of every sign-in with a principal (<c>SignInAsync("Tessera")</c>,
    /// the cookie-authentication ticket store, token sessions for a principal): its first non-blank
    /// <see cref="ClaimTypes.NameIdentifier"/> claim, else its first non-blank <c>sub</c> claim (an OpenID Connect
    /// principal without claim mapping), else its non-blank <see cref="ClaimsPrincipal.Identity"/> name (a cookie app
    /// that signs in with a user name alone); <see langword="null"/> when it has none of them.
    /// </summary>
    public static string? SubjectOf(ClaimsPrincipal principal)
    {
        ArgumentNullException.ThrowIfNull(principal);
        return FirstValue(principal, ClaimTypes.NameIdentifier)
            ?? FirstValue(principal, SubjectClaimType)
            ?? (principal.Identity?.Name is { } name && !string.IsNullOrWhiteSpace(name) ? name : null);
    }

    /// <summary><see cref="SubjectOf"/>, or an exception that says which claims were looked for.</summary>
    /// <param name="principal">The principal signing in.</param>
    /// <param name="signIn">What signs in, to start the message (<c>Signing in to Tessera</c>).</param>
    /// <exception cref="InvalidOperationException">The principal has none of them.</exception>
    public static string RequireSubject(ClaimsPrincipal principal, string signIn) => SubjectOf(principal)
        ?? throw new InvalidOperationException($"{signIn} needs a subject for the session: the principal has no '{ClaimTypes.NameIdentifier}' claim, no '{SubjectClaimType}' claim and no name.");

    private const string SubjectClaimType = "sub";

    private static string? FirstValue(ClaimsPrincipal principal, string type) =>
        principal.FindFirst(c => c.Type == type && !string.IsNullOrWhiteSpace(c.Value))?.Value;

    /// <summary>
    /// Writes a principal and its properties' items (the sign-in's redirect left out). A claim of type <c>sid</c> issued
    /// by <paramref name="sessionIdIssuer"/> is left out: that is the claim authentication adds, and it is added again.
    /// </summary>
    public static string Write(ClaimsPrincipal principal, IDictionary<string, string?>? items, string sessionIdIssuer)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteStartArray(IdentitiesName);
            foreach (var identity in principal.Identities)
            {
                WriteIdentity(writer, identity, sessionIdIssuer);
            }
            writer.WriteEndArray();
            if (items is { Count: > 0 })
            {
                writer.WriteStartObject(ItemsName);
                foreach (var (key, value) in items)
                {
                    if (key != RedirectItem)
                    {
                        writer.WriteString(key, value);
                    }
                }
                writer.WriteEndObject();
            }
            writer.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>
    /// Reads a principal back, with a <c>sid</c> claim of <paramref name="sessionId"/> issued by
    /// <paramref name="issuer"/> first in its first identity, and the properties with the kept items.
    /// <see langword="null"/> when the text is not a principal this class wrote. Every call gives a principal and
    /// properties of its own (an app may change them); only the parsed text behind them is shared.
    /// </summary>
    public static (ClaimsPrincipal Principal, AuthenticationProperties Properties)? Read(string json, string sessionId, string issuer) =>
        Parse(json)?.Build(sessionId, issuer);

    /// <summary>Whether the sign-in asked for a persistent credential (<see cref="AuthenticationProperties.IsPersistent"/>).</summary>
    public static bool IsPersistent(string json) => Parse(json)?.Persistent ?? false;

    private static void WriteIdentity(Utf8JsonWriter writer, ClaimsIdentity identity, string sessionIdIssuer)
    {
        writer.WriteStartObject();
        if (identity.AuthenticationType is { } authenticationType)
        {
            writer.WriteString("t", authenticationType);
        }
        if (identity.NameClaimType != ClaimsIdentity.DefaultNameClaimType)
        {
            writer.WriteString("n", identity.NameClaimType);
        }
        if (identity.RoleClaimType != ClaimsIdentity.DefaultRoleClaimType)
        {
            writer.WriteString("r", identity.RoleClaimType);
        }
        writer.WriteStartArray("c");
        foreach (var claim in identity.Claims)
        {
            if (claim.Type == TesseraAuthenticationDefaults.SessionIdClaimType && claim.Issuer == sessionIdIssuer)
            {
                continue;
            }
            WriteClaim(writer, claim);
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    private static void WriteClaim(Utf8JsonWriter writer, Claim claim)
    {
        var valueType = claim.ValueType == ClaimValueTypes.String ? null : claim.ValueType;
        var issuer = claim.Issuer == ClaimsIdentity.DefaultIssuer ? null : claim.Issuer;
        var originalIssuer = claim.OriginalIssuer == claim.Issuer ? null : claim.OriginalIssuer;
        writer.WriteStartArray();
        writer.WriteStringValue(claim.Type);
        writer.WriteStringValue(claim.Value);
        var members = originalIssuer is not null ? 3 : issuer is not null ? 2 : valueType is not null ? 1 : 0;
        if (members >= 1)
        {
            WriteOrNull(writer, valueType);
        }
        if (members >= 2)
        {
            WriteOrNull(writer, issuer);
        }
        if (members >= 3)
        {
            writer.WriteStringValue(originalIssuer);
        }
        writer.WriteEndArray();
    }

    private static void WriteOrNull(Utf8JsonWriter writer, string? value)
    {
        if (value is null)
        {
            writer.WriteNullValue();
        }
        else
        {
            writer.WriteStringValue(value);
        }
    }

    // The parsed form of a stored principal, shared by every request whose session holds the same text: parsing is
    // most of what reading a principal costs, and a signed-in user's principal text changes only when they sign in again.
    // Keyed by the text itself (not its session), so a store that hands out a fresh string per read (Redis, PostgreSQL)
    // finds it too. Bounded: past CacheCapacity entries it starts over; texts over MaxCachedLength are not kept.
    private const int CacheCapacity = 1024;
    private const int MaxCachedLength = 4096;
    private static readonly ConcurrentDictionary<string, ParsedText> ParsedTexts = new(StringComparer.Ordinal);
    private static int s_parsedCount;

    // In front of that, the string instances a store hands out again, found by identity: the memory store gives every
    // request of a session the very string it keeps, so once a text's lookup finds the instance it was first parsed
    // from, that instance is remembered, and its later requests find their principal without hashing the text. A store
    // that reads a fresh string per read (Redis, PostgreSQL) never gets there and adds nothing. The table is
    // direct-mapped: a text's slot comes from its identity hash (RuntimeHelpers.GetHashCode, not its characters), so a
    // lookup is one array read and one reference comparison, where a weak table cost a lock-free probe through GC
    // handles on every request. Its slots hold their strings strongly, InstanceSlots of them at most (each at most
    // MaxCachedLength characters, the same bound as the dictionary above, which holds its texts strongly too); a slot
    // is taken over by the next remembered text that maps to it, so a session's text that was replaced or ended stays
    // only until then.
    private const int InstanceSlots = 1024; // a power of two: the slot is the identity hash's low bits
    private static readonly ParsedText?[] s_byInstance = new ParsedText?[InstanceSlots];

    // A parsed text, with the instance it was parsed from.
    private sealed class ParsedText(string instance, StoredPrincipal? parsed)
    {
        public string Instance { get; } = instance;

        public StoredPrincipal? Parsed { get; } = parsed;
    }

    private static StoredPrincipal? Parse(string json)
    {
        if (json.Length > MaxCachedLength)
        {
            return ParseText(json);
        }
        var slot = RuntimeHelpers.GetHashCode(json) & (InstanceSlots - 1);
        // ParsedText is immutable and published whole (Volatile.Write), so a reader sees either a complete entry or
        // another text's, which the reference comparison turns away.
        if (Volatile.Read(ref s_byInstance[slot]) is { } known && ReferenceEquals(known.Instance, json))
        {
            return known.Parsed;
        }
        if (ParsedTexts.TryGetValue(json, out var parsed))
        {
            if (ReferenceEquals(parsed.Instance, json))
            {
                Volatile.Write(ref s_byInstance[slot], parsed);
            }
            return parsed.Parsed;
        }
        parsed = new ParsedText(json, ParseText(json));
        if (Interlocked.Increment(ref s_parsedCount) > CacheCapacity)
        {
            ParsedTexts.Clear();
            Volatile.Write(ref s_parsedCount, 1);
        }
        ParsedTexts.TryAdd(json, parsed);
        return parsed.Parsed;
    }

    private static StoredPrincipal? ParseText(string json)
    {
        var bytes = ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetMaxByteCount(json.Length));
        try
        {
            var length = Encoding.UTF8.GetBytes(json, bytes);
            return Parse(new ReadOnlySpan<byte>(bytes, 0, length));
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // Not a principal this class wrote (GetString on a number, say): no principal rather than a 500.
            return null;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(bytes);
        }
    }

    private static StoredPrincipal? Parse(ReadOnlySpan<byte> utf8)
    {
        var reader = new Utf8JsonReader(utf8);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return null;
        }
        var identities = new List<StoredIdentity>(1);
        KeyValuePair<string, string?>[]? items = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals(IdentitiesName))
            {
                Expect(ref reader, JsonTokenType.StartArray);
                while (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
                {
                    identities.Add(ReadIdentity(ref reader));
                }
            }
            else if (reader.ValueTextEquals(ItemsName))
            {
                Expect(ref reader, JsonTokenType.StartObject);
                var read = new List<KeyValuePair<string, string?>>();
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var key = reader.GetString()!;
                    reader.Read();
                    read.Add(new(key, reader.TokenType == JsonTokenType.Null ? null : reader.GetString()));
                }
                items = [.. read];
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
        return identities.Count > 0 ? new StoredPrincipal([.. identities], items) : null;
    }

    // Two passes over the identity's object, the first on a copy of the reader: jsonb may have put the identity's types
    // after its claims, and the claims are read into a list either way.
    private static StoredIdentity ReadIdentity(ref Utf8JsonReader reader)
    {
        string? authenticationType = null, nameType = null, roleType = null;
        var header = reader;
        while (header.Read() && header.TokenType == JsonTokenType.PropertyName)
        {
            if (header.ValueTextEquals("t"))
            {
                header.Read();
                authenticationType = header.GetString();
            }
            else if (header.ValueTextEquals("n"))
            {
                header.Read();
                nameType = header.GetString();
            }
            else if (header.ValueTextEquals("r"))
            {
                header.Read();
                roleType = header.GetString();
            }
            else
            {
                header.Read();
                header.Skip();
            }
        }
        var claims = new List<StoredClaim>();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (!reader.ValueTextEquals("c"))
            {
                reader.Read();
                reader.Skip();
                continue;
            }
            Expect(ref reader, JsonTokenType.StartArray);
            while (reader.Read() && reader.TokenType == JsonTokenType.StartArray)
            {
                claims.Add(ReadClaim(ref reader));
            }
        }
        return new StoredIdentity(authenticationType, nameType ?? ClaimsIdentity.DefaultNameClaimType, roleType ?? ClaimsIdentity.DefaultRoleClaimType, [.. claims]);
    }

    private static StoredClaim ReadClaim(ref Utf8JsonReader reader)
    {
        Expect(ref reader, JsonTokenType.String);
        var type = reader.GetString()!;
        Expect(ref reader, JsonTokenType.String);
        var value = reader.GetString()!;
        string? valueType = null, claimIssuer = null, originalIssuer = null;
        for (var member = 0; reader.Read() && reader.TokenType != JsonTokenType.EndArray; member++)
        {
            var text = reader.TokenType == JsonTokenType.Null ? null : reader.GetString();
            switch (member)
            {
                case 0: valueType = text; break;
                case 1: claimIssuer = text; break;
                case 2: originalIssuer = text; break;
                default: break;
            }
        }
        claimIssuer ??= ClaimsIdentity.DefaultIssuer;
        return new StoredClaim(type, value, valueType ?? ClaimValueTypes.String, claimIssuer, originalIssuer ?? claimIssuer);
    }

    private static void Expect(ref Utf8JsonReader reader, JsonTokenType type)
    {
        if (!reader.Read() || reader.TokenType != type)
        {
            throw new JsonException($"Expected {type} in a stored principal.");
        }
    }

    private sealed class StoredPrincipal(StoredIdentity[] identities, KeyValuePair<string, string?>[]? items)
    {
        public bool Persistent { get; } = items is not null && Array.Exists(items, item => item.Key == PersistentItem);

        public (ClaimsPrincipal, AuthenticationProperties) Build(string sessionId, string issuer)
        {
            var principal = new ClaimsPrincipal();
            for (var i = 0; i < identities.Length; i++)
            {
                principal.AddIdentity(identities[i].Build(i == 0 ? (sessionId, issuer) : null));
            }
            var properties = items is null
                ? new AuthenticationProperties()
                : new AuthenticationProperties(new StoredItems(items));
            return (principal, properties);
        }
    }

    private sealed record StoredIdentity(string? AuthenticationType, string NameType, string RoleType, StoredClaim[] Claims)
    {
        // A claim made for its identity is not copied when added to it, so each claim is made with its identity.
        public ClaimsIdentity Build((string Id, string Issuer)? sessionIdClaim)
        {
            var identity = new ClaimsIdentity(AuthenticationType, NameType, RoleType);
            if (sessionIdClaim is { } sid)
            {
                identity.AddClaim(new Claim(TesseraAuthenticationDefaults.SessionIdClaimType, sid.Id, ClaimValueTypes.String, sid.Issuer, sid.Issuer, identity));
            }
            foreach (var claim in Claims)
            {
                identity.AddClaim(new Claim(claim.Type, claim.Value, claim.ValueType, claim.Issuer, claim.OriginalIssuer, identity));
            }
            return identity;
        }
    }

    private readonly record struct StoredClaim(string Type, string Value, string ValueType, string Issuer, string OriginalIssuer);
}
