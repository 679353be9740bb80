using System.Globalization;
using Tessera.Redis.Resp;

namespace Tessera.Redis;

// Hashes to records and records to script arguments.
public sealed partial class RedisSessionStore
{
    /// <summary>Reads a session hash (HGETALL's flat field/value list); null when it is empty or incomplete.</summary>
    private static SessionRecord? ParseSession(string id, RedisValue hash)
    {
        var items = hash.AsArray();
        if (items is null || items.Count == 0)
        {
            return null;
        }
        var data = new Dictionary<string, string>(StringComparer.Ordinal);
        string? credential = null, subject = null, userAgent = null, ip = null, label = null;
        long? created = null, seen = null, idle = null, absolute = null, revoked = null;
        for (var i = 0; i + 1 < items.Count; i += 2)
        {
            var field = items[i].AsString()!;
            var value = items[i + 1];
            if (field.StartsWith("d:", StringComparison.Ordinal))
            {
                data[field[2..]] = value.AsString()!;
                continue;
            }
            switch (field)
            {
                case "m:ch": credential = value.AsString(); break;
                case "m:sub": subject = value.AsString(); break;
                case "m:c": created = value.AsInt64(); break;
                case "m:l": seen = value.AsInt64(); break;
                case "m:i": idle = value.AsInt64(); break;
                case "m:a": absolute = value.AsInt64(); break;
                case "m:r": revoked = value.AsInt64(); break;
                case "m:ua": userAgent = value.AsString(); break;
                case "m:ip": ip = value.AsString(); break;
                case "m:lb": label = value.AsString(); break;
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

    private static void AddOptional(List<RedisArg> args, string field, string? value)
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
