using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Tessera.AspNetCore.CookieStore;

/// <summary>
/// A session record in compact binary, the plaintext the cookie store encrypts. Version 1:
/// <code>
/// flags (1 byte: 1 = id is a UUID in 16 bytes, 2 = subject, 4 = user agent, 8 = IP address, 16 = label, 32 = version)
/// write version (8 bytes, little-endian, when its flag is set: with a revocation store only)
/// id (16 bytes, or a length-prefixed UTF-8 string)
/// created, last seen, idle deadline, absolute deadline (4 x 8 bytes: Unix milliseconds, little-endian)
/// subject, user agent, IP address, label (each a length-prefixed UTF-8 string, when its flag is set)
/// data: a count, then each key and JSON value as a length-prefixed UTF-8 string
/// </code>
/// Lengths and the count are 7-bit encoded integers. Times have a fixed width so that a touch never changes the size
/// (a read-only request can never push a session over the chunk bound), and so does the write version, which sits at
/// <see cref="VersionOffset"/> so that it can be filled in after the size is known to fit. A record without it (written
/// without a revocation store, or before versions existed) reads as version 0. The credential hash is not in it: it is the
/// encryption's associated data, and the caller of a load already holds it.
/// </summary>
internal static class CookieRecordCodec
{
    private const byte IdIsUuid = 1;
    private const byte HasSubject = 2;
    private const byte HasUserAgent = 4;
    private const byte HasIpAddress = 8;
    private const byte HasLabel = 16;
    private const byte HasVersion = 32;
    private const byte KnownFlags = IdIsUuid | HasSubject | HasUserAgent | HasIpAddress | HasLabel | HasVersion;

    /// <summary>Where the write version sits in a record written with one.</summary>
    public const int VersionOffset = 1;

    // Far more than any cookie can carry: a length beyond it is corruption, never a reason to allocate.
    private const int MaxLength = 1 << 20;

    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>
    /// Writes a record; with <paramref name="versioned"/>, with a write version of 0 at <see cref="VersionOffset"/>,
    /// for <see cref="SetVersion"/> to fill in.
    /// </summary>
    public static void Write(SessionRecord record, bool versioned, IBufferWriter<byte> output)
    {
        var metadata = record.Metadata;
        var uuid = TryUuid(record.Id, out var guid);
        var flags = (byte)((uuid ? IdIsUuid : 0)
            | (record.Subject is null ? 0 : HasSubject)
            | (metadata.UserAgent is null ? 0 : HasUserAgent)
            | (metadata.IpAddress is null ? 0 : HasIpAddress)
            | (metadata.Label is null ? 0 : HasLabel)
            | (versioned ? HasVersion : 0));
        output.GetSpan(1)[0] = flags;
        output.Advance(1);
        if (versioned)
        {
            output.GetSpan(8)[..8].Clear();
            output.Advance(8);
        }
        if (uuid)
        {
            guid.TryWriteBytes(output.GetSpan(16), bigEndian: true, out _);
            output.Advance(16);
        }
        else
        {
            WriteString(output, record.Id);
        }
        WriteTime(output, record.CreatedAt);
        WriteTime(output, record.LastSeenAt);
        WriteTime(output, record.IdleExpiresAt);
        WriteTime(output, record.AbsoluteExpiresAt);
        WriteOptional(output, record.Subject);
        WriteOptional(output, metadata.UserAgent);
        WriteOptional(output, metadata.IpAddress);
        WriteOptional(output, metadata.Label);
        WriteLength(output, record.Data.Count);
        foreach (var (key, value) in record.Data)
        {
            WriteString(output, key);
            WriteString(output, value);
        }
    }

    /// <summary>Fills in the write version of a record written with <c>versioned</c>.</summary>
    public static void SetVersion(Span<byte> record, long version) =>
        BinaryPrimitives.WriteInt64LittleEndian(record.Slice(VersionOffset, 8), version);

    /// <summary>
    /// Reads a record and its write version (0 when it has none); <see langword="null"/> when the bytes are not a
    /// version 1 record (never throws for bad input).
    /// </summary>
    public static SessionRecord? Read(ReadOnlySpan<byte> bytes, byte[] credentialHash, out long version)
    {
        version = 0;
        var reader = new Reader(bytes);
        if (!reader.Byte(out var flags) || (flags & ~KnownFlags) != 0)
        {
            return null;
        }
        if ((flags & HasVersion) != 0)
        {
            if (!reader.Bytes(8, out var raw) || (version = BinaryPrimitives.ReadInt64LittleEndian(raw)) < 0)
            {
                return null;
            }
        }
        string? id;
        if ((flags & IdIsUuid) != 0)
        {
            id = reader.Bytes(16, out var raw) ? new Guid(raw, bigEndian: true).ToString("D") : null;
        }
        else
        {
            reader.String(out id);
        }
        if (id is null
            || !reader.Time(out var created)
            || !reader.Time(out var lastSeen)
            || !reader.Time(out var idle)
            || !reader.Time(out var absolute)
            || !reader.Optional((flags & HasSubject) != 0, out var subject)
            || !reader.Optional((flags & HasUserAgent) != 0, out var userAgent)
            || !reader.Optional((flags & HasIpAddress) != 0, out var ipAddress)
            || !reader.Optional((flags & HasLabel) != 0, out var label)
            || !reader.Length(out var count))
        {
            return null;
        }
        var data = new Dictionary<string, string>(Math.Min(count, 1024), StringComparer.Ordinal);
        for (var i = 0; i < count; i++)
        {
            if (!reader.String(out var key) || !reader.String(out var value) || !data.TryAdd(key!, value!))
            {
                return null;
            }
        }
        if (!reader.AtEnd)
        {
            return null;
        }
        return new SessionRecord
        {
            Id = id,
            CredentialHash = credentialHash,
            Subject = subject,
            Data = data,
            CreatedAt = created,
            LastSeenAt = lastSeen,
            IdleExpiresAt = idle,
            AbsoluteExpiresAt = absolute,
            Metadata = userAgent is null && ipAddress is null && label is null ? SessionMetadata.Empty : new SessionMetadata(userAgent, ipAddress, label),
        };
    }

    // Only the canonical lower-case form is packed, so the id reads back as exactly the same string.
    private static bool TryUuid(string id, out Guid guid) =>
        Guid.TryParseExact(id, "D", out guid) && string.Equals(guid.ToString("D"), id, StringComparison.Ordinal);

    private static void WriteTime(IBufferWriter<byte> output, DateTimeOffset time)
    {
        BinaryPrimitives.WriteInt64LittleEndian(output.GetSpan(8), time.ToUnixTimeMilliseconds());
        output.Advance(8);
    }

    private static void WriteOptional(IBufferWriter<byte> output, string? value)
    {
        if (value is not null)
        {
            WriteString(output, value);
        }
    }

    private static void WriteString(IBufferWriter<byte> output, string value)
    {
        var length = Utf8.GetByteCount(value);
        WriteLength(output, length);
        Utf8.GetBytes(value, output.GetSpan(length));
        output.Advance(length);
    }

    private static void WriteLength(IBufferWriter<byte> output, int value)
    {
        var span = output.GetSpan(5);
        var written = 0;
        var v = (uint)value;
        while (v >= 0x80)
        {
            span[written++] = (byte)(v | 0x80);
            v >>= 7;
        }
        span[written++] = (byte)v;
        output.Advance(written);
    }

    private ref struct Reader(ReadOnlySpan<byte> bytes)
    {
        private ReadOnlySpan<byte> _rest = bytes;

        public readonly bool AtEnd => _rest.IsEmpty;

        public bool Byte(out byte value)
        {
            if (_rest.IsEmpty)
            {
                value = 0;
                return false;
            }
            value = _rest[0];
            _rest = _rest[1..];
            return true;
        }

        public bool Bytes(int count, out ReadOnlySpan<byte> value)
        {
            if (_rest.Length < count)
            {
                value = default;
                return false;
            }
            value = _rest[..count];
            _rest = _rest[count..];
            return true;
        }

        public bool Time(out DateTimeOffset value)
        {
            value = default;
            if (!Bytes(8, out var raw))
            {
                return false;
            }
            var milliseconds = BinaryPrimitives.ReadInt64LittleEndian(raw);
            if (milliseconds < 0 || milliseconds > DateTimeOffset.MaxValue.ToUnixTimeMilliseconds())
            {
                return false;
            }
            value = DateTimeOffset.FromUnixTimeMilliseconds(milliseconds);
            return true;
        }

        public bool Length(out int value)
        {
            value = 0;
            var shift = 0;
            while (Byte(out var b))
            {
                if (shift == 28 && b > 0x0F)
                {
                    return false;
                }
                value |= (b & 0x7F) << shift;
                if ((b & 0x80) == 0)
                {
                    return value <= MaxLength;
                }
                shift += 7;
            }
            return false;
        }

        public bool String(out string? value)
        {
            value = null;
            if (!Length(out var length) || !Bytes(length, out var raw))
            {
                return false;
            }
            try
            {
                value = Utf8.GetString(raw);
                return true;
            }
            catch (DecoderFallbackException)
            {
                return false;
            }
        }

        public bool Optional(bool present, out string? value)
        {
            value = null;
            return !present || String(out value);
        }
    }
}
