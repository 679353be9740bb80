using System.Buffers;
using System.Text;
using System.Text.Json;
using Npgsql;
using NpgsqlTypes;

namespace Tessera.PostgreSql;

// Rows to records and records to parameters: how a session and its times, ids and data travel to and from PostgreSQL.
public sealed partial class PostgreSqlSessionStore
{
    private static SessionRecord ReadSession(NpgsqlDataReader reader, int first)
    {
        var data = new Dictionary<string, string>(StringComparer.Ordinal);
        using (var document = JsonDocument.Parse(reader.GetString(first + 3)))
        {
            if (document.RootElement.ValueKind == JsonValueKind.Object)
            {
                foreach (var property in document.RootElement.EnumerateObject())
                {
                    data[property.Name] = property.Value.GetRawText();
                }
            }
        }
        return new SessionRecord
        {
            Id = reader.GetString(first),
            // A session Compas created has no cookie credential; it is only ever reached through its tokens.
            CredentialHash = reader.IsDBNull(first + 1) ? [] : reader.GetFieldValue<byte[]>(first + 1),
            Subject = reader.IsDBNull(first + 2) ? null : reader.GetString(first + 2),
            Data = data,
            CreatedAt = ReadTime(reader, first + 4),
            LastSeenAt = ReadTime(reader, first + 5),
            IdleExpiresAt = ReadTime(reader, first + 6),
            AbsoluteExpiresAt = ReadTime(reader, first + 7),
            RevokedAt = reader.IsDBNull(first + 8) ? null : ReadTime(reader, first + 8),
            Metadata = new SessionMetadata(
                reader.IsDBNull(first + 9) ? null : reader.GetString(first + 9),
                reader.IsDBNull(first + 10) ? null : reader.GetString(first + 10),
                reader.IsDBNull(first + 11) ? null : reader.GetString(first + 11)),
        };
    }

    // 'infinity' (a Compas session's own deadline) reads as DateTime.MaxValue and is kept as DateTimeOffset.MaxValue.
    private static DateTimeOffset ReadTime(NpgsqlDataReader reader, int ordinal)
    {
        var value = reader.GetFieldValue<DateTime>(ordinal);
        return value == DateTime.MaxValue ? DateTimeOffset.MaxValue
            : value == DateTime.MinValue ? DateTimeOffset.MinValue
            : new DateTimeOffset(DateTime.SpecifyKind(value, DateTimeKind.Utc));
    }

    private static NpgsqlParameter Time(DateTimeOffset? value) => new()
    {
        NpgsqlDbType = NpgsqlDbType.TimestampTz,
        Value = value switch
        {
            null => DBNull.Value,
            { } v when v == DateTimeOffset.MaxValue => DateTime.SpecifyKind(DateTime.MaxValue, DateTimeKind.Utc),
            { } v => v.UtcDateTime,
        },
    };

    private static NpgsqlParameter Uuid(Guid value) => new NpgsqlParameter<Guid> { NpgsqlDbType = NpgsqlDbType.Uuid, TypedValue = value };

    private static NpgsqlParameter Text(string? value) => new() { NpgsqlDbType = NpgsqlDbType.Text, Value = (object?)value ?? DBNull.Value };

    private static NpgsqlParameter Bool(bool value) => new NpgsqlParameter<bool> { NpgsqlDbType = NpgsqlDbType.Boolean, TypedValue = value };

    private static NpgsqlParameter Bytes(byte[]? value) => new() { NpgsqlDbType = NpgsqlDbType.Bytea, Value = (object?)value ?? DBNull.Value };

    private static NpgsqlParameter Jsonb(string json) => new() { NpgsqlDbType = NpgsqlDbType.Jsonb, Value = json };

    // The values are JSON texts already; they are written as they are (jsonb parses, and may reformat, them).
    private static string DataJson(IReadOnlyDictionary<string, string> data)
    {
        if (data.Count == 0)
        {
            return "{}";
        }
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            foreach (var (key, json) in data)
            {
                writer.WritePropertyName(key);
                writer.WriteRawValue(json);
            }
            writer.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
