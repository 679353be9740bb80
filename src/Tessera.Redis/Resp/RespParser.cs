using System.Buffers.Text;
using System.Globalization;
using System.Text;

namespace Tessera.Redis.Resp;

/// <summary>
/// Reads RESP2 (and the RESP3 types) from a buffer. <see cref="TryScan"/> finds the end of one complete reply without
/// allocating, so a reply that arrives in many TCP segments is measured, not rebuilt, on each segment; only a complete
/// reply is then materialized by <see cref="Parse"/>.
/// </summary>
internal static class RespParser
{
    /// <summary>Longest line (type byte to CRLF) accepted, so a peer sending endless bytes cannot grow the buffer forever.</summary>
    public const int MaxLineLength = 1024 * 1024;

    /// <summary>Longest bulk string accepted: Redis's own proto-max-bulk-len default.</summary>
    public const int MaxBulkLength = 512 * 1024 * 1024;

    /// <summary>Deepest nesting materialized, so a hostile peer cannot overflow the stack.</summary>
    public const int MaxDepth = 64;

    /// <summary>
    /// Returns true and the length of the first complete reply in <paramref name="buffer"/>, or false if more bytes are
    /// needed. Throws <see cref="RedisProtocolException"/> when the bytes are not RESP.
    /// </summary>
    public static bool TryScan(ReadOnlySpan<byte> buffer, out int length)
    {
        length = 0;
        var pos = 0;
        long remaining = 1;
        while (remaining > 0)
        {
            if (!TryReadLine(buffer, pos, out var type, out var line, out var next))
            {
                return false;
            }

            remaining--;
            pos = next;
            switch (type)
            {
                case (byte)':':
                    ParseInteger(line);
                    break;
                case (byte)'+':
                case (byte)'-':
                case (byte)'_':
                case (byte)',':
                case (byte)'#':
                case (byte)'(':
                    break;
                case (byte)'$':
                case (byte)'!':
                case (byte)'=':
                    var size = ParseLength(line, MaxBulkLength);
                    if (size >= 0)
                    {
                        if (buffer.Length - pos < size + 2L)
                        {
                            return false;
                        }

                        if (buffer[pos + size] != '\r' || buffer[pos + size + 1] != '\n')
                        {
                            throw new RedisProtocolException("A bulk string is not followed by CRLF.");
                        }

                        pos += size + 2;
                    }

                    break;
                case (byte)'*':
                case (byte)'~':
                case (byte)'>':
                    var count = ParseLength(line, int.MaxValue);
                    if (count > 0)
                    {
                        remaining += count;
                    }

                    break;
                case (byte)'%':
                case (byte)'|':
                    var pairs = ParseLength(line, int.MaxValue / 2);
                    if (pairs > 0)
                    {
                        remaining += 2L * pairs;
                    }

                    if (type == '|')
                    {
                        remaining++; // an attribute precedes the value it describes
                    }

                    break;
                default:
                    throw new RedisProtocolException("The server sent a byte that starts no RESP type.");
            }
        }

        length = pos;
        return true;
    }

    /// <summary>Materializes the complete reply at the start of <paramref name="buffer"/> (which <see cref="TryScan"/> has measured).</summary>
    public static RedisValue Parse(ReadOnlySpan<byte> buffer)
    {
        var pos = 0;
        return ParseValue(buffer, ref pos, 0);
    }

    private static RedisValue ParseValue(ReadOnlySpan<byte> buffer, ref int pos, int depth)
    {
        if (depth > MaxDepth)
        {
            throw new RedisProtocolException("The reply is nested too deeply.");
        }

        TryReadLine(buffer, pos, out var type, out var line, out var next);
        pos = next;
        switch (type)
        {
            case (byte)'+':
                return RedisValue.SimpleString(Encoding.UTF8.GetString(line));
            case (byte)'-':
                return RedisValue.Error(Encoding.UTF8.GetString(line));
            case (byte)':':
                return RedisValue.Integer(ParseInteger(line));
            case (byte)'_':
                return RedisValue.Null;
            case (byte)'#':
                return line.Length == 1 && line[0] is (byte)'t' or (byte)'f'
                    ? RedisValue.Boolean(line[0] == 't')
                    : throw new RedisProtocolException("A RESP3 boolean is not t or f.");
            case (byte)',':
                return RedisValue.Double(ParseDouble(line));
            case (byte)'(':
                return RedisValue.BigNumber(Encoding.ASCII.GetString(line));
            case (byte)'$':
            case (byte)'!':
            case (byte)'=':
                var size = ParseLength(line, MaxBulkLength);
                if (size < 0)
                {
                    return type == '$' ? RedisValue.Bulk(null) : throw new RedisProtocolException("Only a bulk string can be null.");
                }

                var bytes = buffer.Slice(pos, size);
                pos += size + 2;
                if (type == '!')
                {
                    return RedisValue.Error(Encoding.UTF8.GetString(bytes));
                }

                if (type == '=')
                {
                    // Verbatim string: "txt:" or "mkd:" format prefix, then the text.
                    bytes = bytes.Length >= 4 ? bytes[4..] : bytes;
                }

                return RedisValue.Bulk(bytes.ToArray());
            case (byte)'*':
            case (byte)'~':
            case (byte)'>':
            case (byte)'%':
                var count = ParseLength(line, int.MaxValue / 2);
                var kind = type switch
                {
                    (byte)'*' => RedisValueKind.Array,
                    (byte)'~' => RedisValueKind.Set,
                    (byte)'>' => RedisValueKind.Push,
                    _ => RedisValueKind.Map,
                };
                if (count < 0)
                {
                    return RedisValue.Aggregate(kind, null);
                }

                var items = count == 0 ? [] : new RedisValue[kind == RedisValueKind.Map ? count * 2 : count];
                for (var i = 0; i < items.Length; i++)
                {
                    items[i] = ParseValue(buffer, ref pos, depth + 1);
                }

                return RedisValue.Aggregate(kind, items);
            case (byte)'|':
                var pairs = ParseLength(line, int.MaxValue / 2);
                for (var i = 0; i < 2 * pairs; i++)
                {
                    ParseValue(buffer, ref pos, depth + 1); // attributes are metadata; skip them
                }

                return ParseValue(buffer, ref pos, depth);
            default:
                throw new RedisProtocolException("The server sent a byte that starts no RESP type.");
        }
    }

    private static bool TryReadLine(ReadOnlySpan<byte> buffer, int pos, out byte type, out ReadOnlySpan<byte> line, out int next)
    {
        type = 0;
        line = default;
        next = pos;
        if (pos >= buffer.Length)
        {
            return false;
        }

        var rest = buffer[pos..];
        var lf = rest.IndexOf((byte)'\n');
        if (lf < 0)
        {
            if (rest.Length > MaxLineLength)
            {
                throw new RedisProtocolException("The server sent a line longer than the client accepts.");
            }

            return false;
        }

        if (lf < 2 || rest[lf - 1] != '\r')
        {
            throw new RedisProtocolException("The server sent a line that does not end with CRLF.");
        }

        type = rest[0];
        line = rest[1..(lf - 1)];
        next = pos + lf + 1;
        return true;
    }

    private static int ParseLength(ReadOnlySpan<byte> line, int max)
    {
        var value = ParseInteger(line);
        if (value < -1 || value > max)
        {
            throw new RedisProtocolException("The server sent a length out of range.");
        }

        return (int)value;
    }

    private static long ParseInteger(ReadOnlySpan<byte> line)
    {
        if (!Utf8Parser.TryParse(line, out long value, out var consumed) || consumed != line.Length)
        {
            throw new RedisProtocolException("The server sent a malformed integer.");
        }

        return value;
    }

    private static double ParseDouble(ReadOnlySpan<byte> line)
    {
        var text = Encoding.ASCII.GetString(line);
        return text switch
        {
            "inf" => double.PositiveInfinity,
            "-inf" => double.NegativeInfinity,
            "nan" => double.NaN,
            _ => double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d)
                ? d
                : throw new RedisProtocolException("The server sent a malformed double."),
        };
    }
}

/// <summary>The peer sent bytes that are not RESP; the connection cannot be trusted to match replies any more.</summary>
internal sealed class RedisProtocolException : Exception
{
    public RedisProtocolException(string message)
        : base(message)
    {
    }
}
