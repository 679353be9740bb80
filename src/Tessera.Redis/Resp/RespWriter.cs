using System.Buffers;
using System.Globalization;

namespace Tessera.Redis.Resp;

/// <summary>Encodes commands as RESP arrays of bulk strings into pooled buffers.</summary>
internal static class RespWriter
{
    private static readonly HashSet<string> ConnectionStateCommands = new(StringComparer.OrdinalIgnoreCase)
    {
        "AUTH", "SELECT", "HELLO", "RESET", "QUIT", "MONITOR", "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "SYNC", "PSYNC",
    };

    /// <summary>
    /// Refuses commands that would change the shared connection for every caller or stop it answering in order; the
    /// connection applies AUTH and SELECT itself from its options, after every reconnection.
    /// </summary>
    public static void ThrowIfConnectionStateCommand(string command)
    {
        ArgumentException.ThrowIfNullOrEmpty(command);
        if (ConnectionStateCommands.Contains(command))
        {
            throw new NotSupportedException($"{command.ToUpperInvariant()} cannot be sent over a shared Redis connection; set RedisOptions instead (Pub/Sub is not supported).");
        }
    }

    /// <summary>The exact size of one encoded command.</summary>
    public static int Measure(string command, ReadOnlySpan<RedisArg> args)
    {
        ArgumentException.ThrowIfNullOrEmpty(command);
        long total = 1 + RedisArg.DigitCount(args.Length + 1) + 2 + BulkSize(System.Text.Encoding.UTF8.GetByteCount(command));
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i].IsNull)
            {
                // Say which argument, never what the others hold.
                throw new ArgumentException($"Argument {i.ToString(CultureInfo.InvariantCulture)} of a Redis {command} command is null.", nameof(args));
            }

            total += BulkSize(args[i].ByteCount);
        }

        return total > Array.MaxLength ? throw new ArgumentException("The Redis command is too large.", nameof(args)) : (int)total;
    }

    /// <summary>Writes one command measured by <see cref="Measure"/>; returns the bytes written.</summary>
    public static int Write(Span<byte> destination, string command, ReadOnlySpan<RedisArg> args)
    {
        var pos = WriteHeader(destination, (byte)'*', args.Length + 1);
        pos += WriteBulk(destination[pos..], RedisArg.FromString(command));
        foreach (var arg in args)
        {
            pos += WriteBulk(destination[pos..], arg);
        }

        return pos;
    }

    /// <summary>Rents a buffer and encodes one command into it.</summary>
    public static byte[] Encode(string command, ReadOnlySpan<RedisArg> args, out int length)
    {
        length = Measure(command, args);
        var buffer = ArrayPool<byte>.Shared.Rent(length);
        Write(buffer, command, args);
        return buffer;
    }

    private static long BulkSize(int bytes) => 1 + RedisArg.DigitCount(bytes) + 2 + bytes + 2L;

    private static int WriteBulk(Span<byte> destination, RedisArg arg)
    {
        var pos = WriteHeader(destination, (byte)'$', arg.ByteCount);
        pos += arg.CopyTo(destination[pos..]);
        destination[pos++] = (byte)'\r';
        destination[pos++] = (byte)'\n';
        return pos;
    }

    private static int WriteHeader(Span<byte> destination, byte type, int count)
    {
        destination[0] = type;
        count.TryFormat(destination[1..], out var written, default, CultureInfo.InvariantCulture);
        destination[1 + written] = (byte)'\r';
        destination[2 + written] = (byte)'\n';
        return 3 + written;
    }
}
