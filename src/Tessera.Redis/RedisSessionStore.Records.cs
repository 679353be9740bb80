using System.Globalization;
using StackExchange.Redis;

namespace Tessera.Redis;

// Hashes to records and records to script arguments.
public sealed partial class RedisSessionStore
{
    /// <summary>Reads a session hash (HGETALL's flat field/value list); null when it is empty or incomplete.</summary>
    private static SessionRecord? ParseSession(string id, RedisResult hash)
    {
        var items = hash.IsNull ? null : (RedisResult[]?)hash;
        if (items is null || items.Length == 0)
        {
            return null;
        }
        var data = new Dictionary<string, string>(StringComparer.Ordinal);
        string? credential = null, subject = null, userAgent = null, ip = null, label = null;
        long? created = null, seen = null, idle = null, absolute = null, revoked = null;
        for (var i = 0; i + 1 < items.Length; i += 2)
        {
            var field = (string)items[i]!;
            var value = items[i + 1];
            if (field.StartsWith("d:", StringComparison.Ordinal))
            {
                data[field[2..]] = (string)value!;
                continue;
            }
            switch (field)
            {
                case "m:ch": credential = (string?)value; break;
                case "m:sub": subject = (string?)value; break;
                case "m:c": created = (long)value; break;
                case "m:l": seen = (long)value; break;
                case "m:i": idle = (long)value; break;
                case "m:a": absolute = (long)value; break;
                case "m:r": revoked = (long)value; break;
                case "m:ua": userAgent = (string?)value; break;
                case "m:ip": ip = (string?)value; break;
                case "m:lb": label = (string?)value; break;
                default: break; // a field a later version added: ignore it
            }
        }
        if (credential is null || created is null || seen is null || idle is null || absolute is null)
        {
            return null; // a partial hash (for example after an eviction): treat as missing
        }
        return new SessionRecord
        {
            Id = id,
            CredentialHash = Convert.FromHexString(credential),
            Subject = subject,
            Data = data,
            CreatedAt = Time(created.Value),
            LastSeenAt = Time(seen.Value),
            IdleExpiresAt = Time(idle.Value),
            AbsoluteExpiresAt = Time(absolute.Value),
            RevokedAt = revoked is { } r ? Time(r) : null,
            Metadata = userAgent is null && ip is null && label is null ? SessionMetadata.Empty : new SessionMetadata(userAgent, ip, label),
        };
    }

    private static void AddOptional(List<RedisValue> args, string field, string? value)
    {
        if (value is not null)
        {
            args.Add(field);
            args.Add(value);
        }
    }

    private static string Ms(DateTimeOffset time) => time.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);

    private static DateTimeOffset Time(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);
}
