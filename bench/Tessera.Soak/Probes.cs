using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Tessera.Soak;

/// <summary>A process's resident memory and identity, from <c>/proc</c> (Linux only).</summary>
internal static class ProcessProbe
{
    /// <summary>VmRSS in kB, or null when the process is gone.</summary>
    public static long? RssKb(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
                }
            }
            return null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>The process's start time in clock ticks since boot (field 22 of /proc/PID/stat): a pid reused by another process has another.</summary>
    public static long? StartTicks(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // The command name (field 2) is in parentheses and may hold spaces: count from the last ')'.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return long.Parse(fields[19], CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }
}

/// <summary>The store's size at one moment: the number the flatness check looks at, plus details for the report.</summary>
/// <param name="Size">Rows of every session table (SQLite, PostgreSQL) or every key (Redis): a leak anywhere shows.</param>
/// <param name="Sessions">Session rows, or the sessions in Redis's expiry index.</param>
/// <param name="Bytes">Database file + WAL (SQLite), table + index size (PostgreSQL), <c>used_memory</c> (Redis).</param>
internal sealed record StoreSize(long Size, long Sessions, long Bytes);

/// <summary>Reads the size of one store directly (never through the demo), so the measurement does not depend on the code under test.</summary>
internal abstract class StoreProbe : IAsyncDisposable
{
    public abstract string Unit { get; }

    public static StoreProbe? For(TargetSpec target) => target.StoreKind switch
    {
        "sqlite" => new SqliteProbe(target.StoreAddress!),
        "postgres" => new PostgresProbe(target.StoreAddress!),
        "redis" => new RedisProbe(target.StoreAddress!),
        null => null,
        _ => throw new ArgumentException($"unknown store kind {target.StoreKind}."),
    };

    /// <summary>The size now, or null when the store cannot be read (it is down: an outage).</summary>
    public async Task<StoreSize?> ReadAsync(CancellationToken cancellationToken)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(5));
            return await ReadCoreAsync(timeout.Token);
        }
        catch (Exception e) when (e is SqliteException or NpgsqlException or IOException or SocketException or InvalidOperationException or FormatException
            || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return null;
        }
    }

    public virtual ValueTask DisposeAsync() => ValueTask.CompletedTask;

    protected abstract Task<StoreSize> ReadCoreAsync(CancellationToken cancellationToken);

    private sealed class SqliteProbe(string path) : StoreProbe
    {
        public override string Unit => "rows of tessera_sessions, tessera_session_data and tessera_tokens";

        protected override async Task<StoreSize> ReadCoreAsync(CancellationToken cancellationToken)
        {
            await using var connection = new SqliteConnection(new SqliteConnectionStringBuilder
            {
                DataSource = path,
                Mode = SqliteOpenMode.ReadOnly,
                Pooling = false,
                DefaultTimeout = 5,
            }.ToString());
            await connection.OpenAsync(cancellationToken);
            await using var command = connection.CreateCommand();
            command.CommandText = """
                SELECT (SELECT count(*) FROM tessera_sessions),
                       (SELECT count(*) FROM tessera_session_data),
                       (SELECT count(*) FROM tessera_tokens)
                """;
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            var sessions = reader.GetInt64(0);
            var bytes = new FileInfo(path).Length + (File.Exists(path + "-wal") ? new FileInfo(path + "-wal").Length : 0);
            return new StoreSize(sessions + reader.GetInt64(1) + reader.GetInt64(2), sessions, bytes);
        }
    }

    private sealed class PostgresProbe(string connectionString) : StoreProbe
    {
        // One connection at most; after a server restart the broken one is dropped and the next sample opens another.
        private readonly NpgsqlDataSource _dataSource = NpgsqlDataSource.Create(
            new NpgsqlConnectionStringBuilder(connectionString) { MaxPoolSize = 1, Timeout = 3, CommandTimeout = 5, ApplicationName = "tessera-soak" }.ToString());

        public override string Unit => "rows of \"sessionStore\" and \"sessionStoreToken\"";

        public override ValueTask DisposeAsync() => _dataSource.DisposeAsync();

        protected override async Task<StoreSize> ReadCoreAsync(CancellationToken cancellationToken)
        {
            await using var command = _dataSource.CreateCommand("""
                SELECT (SELECT count(*) FROM "sessionStore"),
                       (SELECT count(*) FROM "sessionStoreToken"),
                       pg_total_relation_size('"sessionStore"') + pg_total_relation_size('"sessionStoreToken"')
                """);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            var sessions = reader.GetInt64(0);
            return new StoreSize(sessions + reader.GetInt64(1), sessions, reader.GetInt64(2));
        }
    }

    /// <summary>
    /// Three commands over a fresh connection per sample, in plain RESP: DBSIZE, the sessions in the expiry indexes (a
    /// script summing ZCARD over the buckets), INFO memory.
    /// </summary>
    private sealed class RedisProbe(string endpoint) : StoreProbe
    {
        // The demo's key prefix is the store's default; the sessions' expiry index is one sorted set per bucket,
        // {prefix}:{bNNN}:x for the RedisSessionStore.BucketCount (1,024) buckets. A single node holds them all.
        private const string CountSessions =
            "local n = 0 for b = 0, 1023 do n = n + redis.call('ZCARD', string.format('tessera:{b%03x}:x', b)) end return n";

        public override string Unit => "keys (DBSIZE)";

        protected override async Task<StoreSize> ReadCoreAsync(CancellationToken cancellationToken)
        {
            var at = endpoint.LastIndexOf(':');
            using var client = new TcpClient();
            await client.ConnectAsync(endpoint[..at], int.Parse(endpoint[(at + 1)..], CultureInfo.InvariantCulture), cancellationToken);
            await using var stream = client.GetStream();
            var request = Encoding.ASCII.GetBytes(
                $"*1\r\n$6\r\nDBSIZE\r\n*3\r\n$4\r\nEVAL\r\n${CountSessions.Length}\r\n{CountSessions}\r\n$1\r\n0\r\n*2\r\n$4\r\nINFO\r\n$6\r\nmemory\r\n");
            await stream.WriteAsync(request, cancellationToken);
            var reader = new RespLines(stream);
            var keys = await reader.IntegerAsync(cancellationToken);
            var sessions = await reader.IntegerAsync(cancellationToken);
            var info = await reader.BulkAsync(cancellationToken);
            var used = info.Split('\n').Select(l => l.Trim()).First(l => l.StartsWith("used_memory:", StringComparison.Ordinal));
            return new StoreSize(keys, sessions, long.Parse(used["used_memory:".Length..], CultureInfo.InvariantCulture));
        }
    }

    /// <summary>Just enough of a RESP reader for integer and bulk-string replies.</summary>
    private sealed class RespLines(Stream stream)
    {
        private readonly byte[] _buffer = new byte[64 * 1024];
        private int _start;
        private int _end;

        public async Task<long> IntegerAsync(CancellationToken cancellationToken)
        {
            var line = await LineAsync(cancellationToken);
            return line.StartsWith(':')
                ? long.Parse(line[1..], CultureInfo.InvariantCulture)
                : throw new FormatException($"Redis answered '{line}' where an integer was expected.");
        }

        public async Task<string> BulkAsync(CancellationToken cancellationToken)
        {
            var line = await LineAsync(cancellationToken);
            if (!line.StartsWith('$'))
            {
                throw new FormatException($"Redis answered '{line}' where a bulk string was expected.");
            }
            var length = int.Parse(line[1..], CultureInfo.InvariantCulture);
            while (_end - _start < length + 2)
            {
                await FillAsync(cancellationToken);
            }
            var text = Encoding.UTF8.GetString(_buffer, _start, length);
            _start += length + 2;
            return text;
        }

        private async Task<string> LineAsync(CancellationToken cancellationToken)
        {
            while (true)
            {
                var newline = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
                if (newline >= 0)
                {
                    var line = Encoding.ASCII.GetString(_buffer, _start, newline - _start).TrimEnd('\r');
                    _start = newline + 1;
                    return line;
                }
                await FillAsync(cancellationToken);
            }
        }

        private async Task FillAsync(CancellationToken cancellationToken)
        {
            if (_start > 0)
            {
                Array.Copy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }
            if (_end == _buffer.Length)
            {
                throw new FormatException("Redis's reply is larger than the probe's buffer.");
            }
            var read = await stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken);
            if (read == 0)
            {
                throw new IOException("Redis closed the connection.");
            }
            _end += read;
        }
    }
}
