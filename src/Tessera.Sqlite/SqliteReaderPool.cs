using System.Collections.Concurrent;
using Microsoft.Data.Sqlite;

namespace Tessera.Sqlite;

/// <summary>
/// Open read connections, each with the per-request read statements compiled once: a session read takes a reader,
/// binds its parameters, runs the prepared statement and hands the reader back. This saves opening a connection,
/// setting its pragmas and compiling the SQL on every request, which cost more than the query itself. WAL mode lets
/// these readers run beside the single writer. At most <see cref="MaxIdle"/> readers are kept; more are closed on return.
/// </summary>
internal sealed class SqliteReaderPool(string connectionString, string pragmas) : IDisposable
{
    public const int MaxIdle = 16;

    private readonly ConcurrentBag<Reader> _idle = [];
    private volatile bool _disposed;

    public async ValueTask<Reader> RentAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_idle.TryTake(out var reader))
        {
            return reader;
        }
        var connection = new SqliteConnection(connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            using (var command = connection.CreateCommand())
            {
                command.CommandText = pragmas;
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
            return new Reader(connection);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Takes a reader back; one whose statement failed is closed instead (its state is unknown).</summary>
    public void Return(Reader reader, bool healthy)
    {
        if (!healthy || _disposed || _idle.Count >= MaxIdle)
        {
            reader.Dispose();
            return;
        }
        _idle.Add(reader);
        if (_disposed && _idle.TryTake(out var late))
        {
            late.Dispose(); // disposed while this one was being returned
        }
    }

    public void Dispose()
    {
        _disposed = true;
        while (_idle.TryTake(out var reader))
        {
            reader.Dispose();
        }
    }

    /// <summary>One connection and its prepared read statements.</summary>
    internal sealed class Reader : IDisposable
    {
        private readonly SqliteConnection _connection;
        private readonly Dictionary<string, SqliteCommand> _commands = new(StringComparer.Ordinal);

        public Reader(SqliteConnection connection) => _connection = connection;

        /// <summary>The statement for <paramref name="sql"/> on this connection, compiled on first use with these parameters.</summary>
        public SqliteCommand Command(string sql, params ReadOnlySpan<(string Name, SqliteType Type)> parameters)
        {
            if (_commands.TryGetValue(sql, out var command))
            {
                return command;
            }
            command = _connection.CreateCommand();
#pragma warning disable CA2100 // every text is a constant of SqliteSessionStore; values always travel as parameters
            command.CommandText = sql;
#pragma warning restore CA2100
            foreach (var (name, type) in parameters)
            {
                command.Parameters.Add(name, type);
            }
            command.Prepare();
            _commands[sql] = command;
            return command;
        }

        public void Dispose()
        {
            foreach (var command in _commands.Values)
            {
                command.Dispose();
            }
            _connection.Dispose();
        }
    }
}
