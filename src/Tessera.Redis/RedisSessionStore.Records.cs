using System.Buffers.Text;
using System.Globalization;
using System.Text;
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
        var fields = new SessionFields();
        for (var i = 0; i + 1 < items.Length; i += 2)
        {
            fields.Add((RedisValue)items[i], (RedisValue)items[i + 1]);
        }
        return fields.Build(id);
    }

    /// <summary>Reads a session hash (HGETALL's entries); null when it is empty or incomplete.</summary>
    private static SessionRecord? ParseSession(string id, HashEntry[] entries)
    {
        if (entries.Length == 0)
        {
            return null;
        }
        var fields = new SessionFields();
        foreach (var entry in entries)
        {
            fields.Add(entry.Name, entry.Value);
        }
        return fields.Build(id);
    }

    /// <summary>
    /// Reads the rest of a packed lookup reply as the session hash's fields and values; null when it has none or is
    /// incomplete.
    /// </summary>
    private static SessionRecord? ParseSession(string id, ref RedisPackedReply hash)
    {
        var fields = new SessionFields();
        while (hash.TryRead(out var field))
        {
            fields.Add(field, hash.Read());
        }
        return fields.Build(id);
    }

    private static ReadOnlyMemory<byte> Bytes(RedisResult result) => (ReadOnlyMemory<byte>)(RedisValue)result;

    private static string Text(ReadOnlySpan<byte> utf8) => Encoding.UTF8.GetString(utf8);

    /// <summary>A session hash's fields as they are read, compared as bytes (no string per field name).</summary>
    private struct SessionFields
    {
        private Dictionary<string, string>? _data;
        private byte[]? _credential;
        private string? _subject, _userAgent, _ip, _label;
        private long? _created, _seen, _idle, _absolute, _revoked;

        /// <summary>
        /// Adds a field as StackExchange.Redis read it. It keeps a short value inside the RedisValue and a canonical
        /// integer as a number, so asking for its bytes as memory would make a new array each time: short ones are
        /// copied to the stack instead. (Its number may be one no long holds, "9223372036854775808" in a data value, so
        /// number fields are read from the text too.)
        /// </summary>
        public void Add(RedisValue field, RedisValue value)
        {
            Span<byte> fieldBuffer = stackalloc byte[64];
            Span<byte> valueBuffer = stackalloc byte[256];
            Add(Copy(field, fieldBuffer), Copy(value, valueBuffer));
        }

        public void Add(ReadOnlySpan<byte> field, ReadOnlySpan<byte> value)
        {
            if (field.StartsWith("d:"u8))
            {
                (_data ??= new(StringComparer.Ordinal))[Text(field[2..])] = Text(value);
            }
            else if (field.SequenceEqual("m:ch"u8))
            {
                _credential = FromHex(value);
            }
            else if (field.SequenceEqual("m:sub"u8))
            {
                _subject = Text(value);
            }
            else if (field.SequenceEqual("m:c"u8))
            {
                _created = Number(field, value);
            }
            else if (field.SequenceEqual("m:l"u8))
            {
                _seen = Number(field, value);
            }
            else if (field.SequenceEqual("m:i"u8))
            {
                _idle = Number(field, value);
            }
            else if (field.SequenceEqual("m:a"u8))
            {
                _absolute = Number(field, value);
            }
            else if (field.SequenceEqual("m:r"u8))
            {
                _revoked = Number(field, value);
            }
            else if (field.SequenceEqual("m:ua"u8))
            {
                _userAgent = Text(value);
            }
            else if (field.SequenceEqual("m:ip"u8))
            {
                _ip = Text(value);
            }
            else if (field.SequenceEqual("m:lb"u8))
            {
                _label = Text(value);
            }
            // Any other field is one a later version added: ignored.
        }

        public readonly SessionRecord? Build(string id)
        {
            if (_credential is null || _created is null || _seen is null || _idle is null || _absolute is null)
            {
                return null; // empty, or a partial hash (for example after an eviction): treat as missing
            }
            return new SessionRecord
            {
                Id = id,
                CredentialHash = _credential,
                Subject = _subject,
                Data = _data ?? new Dictionary<string, string>(StringComparer.Ordinal),
                CreatedAt = Time(_created.Value),
                LastSeenAt = Time(_seen.Value),
                IdleExpiresAt = Time(_idle.Value),
                AbsoluteExpiresAt = Time(_absolute.Value),
                RevokedAt = _revoked is { } r ? Time(r) : null,
                Metadata = _userAgent is null && _ip is null && _label is null ? SessionMetadata.Empty : new SessionMetadata(_userAgent, _ip, _label),
            };
        }

        // The value's bytes, copied into buffer when they fit; a longer value is kept in an array, which is read in place.
        private static ReadOnlySpan<byte> Copy(RedisValue value, Span<byte> buffer)
        {
            var length = value.GetByteCount();
            if (length > buffer.Length)
            {
                return ((ReadOnlyMemory<byte>)value).Span;
            }
            value.CopyTo(buffer);
            return buffer[..length];
        }

        private static long Number(ReadOnlySpan<byte> field, ReadOnlySpan<byte> value) =>
            Utf8Parser.TryParse(value, out long number, out var consumed) && consumed == value.Length
                ? number
                : throw new InvalidDataException($"The session hash's field {Text(field)} is not a whole number.");

        private static byte[] FromHex(ReadOnlySpan<byte> value)
        {
            Span<char> hex = value.Length <= 256 ? stackalloc char[value.Length] : new char[value.Length];
            Encoding.ASCII.GetChars(value, hex);
            return Convert.FromHexString(hex);
        }
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
