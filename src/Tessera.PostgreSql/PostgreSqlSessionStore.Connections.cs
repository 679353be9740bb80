using System.Data;
using System.Net.Sockets;
using Npgsql;

namespace Tessera.PostgreSql;

// Connections: every store call rents a pooled connection, runs one statement on it and returns it. A PostgreSQL restart
// kills the pooled connections without Npgsql noticing until each is used again; the first use then fails although the
// server is back. So a statement is run again on a fresh connection when the failure proves the first run had no effect
// (as often as the pool holds connections), or when the statement is idempotent and the connection broke under it (at
// most twice more; see docs/postgresql.md).
public sealed partial class PostgreSqlSessionStore
{
    private static readonly Func<NpgsqlCommand, CancellationToken, Task<int>> RunNonQuery = static (c, t) => c.ExecuteNonQueryAsync(t);
    private static readonly Func<NpgsqlCommand, CancellationToken, Task<object?>> RunScalar = static (c, t) => c.ExecuteScalarAsync(t);
    private static readonly Func<NpgsqlCommand, CancellationToken, Task<NpgsqlDataReader>> RunReader = static (c, t) => c.ExecuteReaderAsync(CommandBehavior.Default, t);
    private static readonly Func<NpgsqlCommand, CancellationToken, Task<NpgsqlDataReader>> RunSingleRowReader = static (c, t) => c.ExecuteReaderAsync(CommandBehavior.SingleRow, t);

    // Every statement is prepared on its pooled connection: Npgsql keeps prepared statements per physical connection,
    // so after a connection's first use of a statement, preparing it again costs no round trip. A multiplexing data
    // source refuses explicit preparation and prepares by itself instead (Max Auto Prepare).
    private async ValueTask<Lease> CommandAsync(string sql, bool idempotent, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        cancellationToken.ThrowIfCancellationRequested();
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        return new Lease(this, new NpgsqlCommand(sql, connection) { CommandTimeout = _commandTimeout }, connection, idempotent);
    }

    /// <summary>
    /// Whether a failed statement may run again on a fresh connection. The server's own shutdown errors prove it had no
    /// effect: PostgreSQL reports 57P01 (admin_shutdown: a fast or smart shutdown, or <c>pg_terminate_backend</c>) only
    /// from an interrupt check, which aborts the transaction, and a single statement of the extended protocol commits
    /// only at its Sync, right before ReadyForQuery; 57P03 (cannot_connect_now) comes before any statement. A connection
    /// that broke with no error from the server (reset, end of stream) proves nothing once the statement was sent: it may
    /// have committed, so only an idempotent statement runs again. A timeout or a cancellation never does.
    /// </summary>
    internal static bool MayRunAgain(NpgsqlException failure, bool sent, bool idempotent) =>
        failure is PostgresException { SqlState: PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CannotConnectNow }
        || (failure is not PostgresException && failure.InnerException is IOException or SocketException && (!sent || idempotent));

    // How many times one statement runs at most: the first run and two more on fresh connections.
    private const int MaxRuns = 3;

    /// <summary>
    /// How many times a statement runs at most while every failure is the server's 57P01 (admin_shutdown): once per
    /// connection the pool can hold, plus one. After a restart every idle pooled connection holds that error, and each
    /// one that fails is thrown away, so a statement can be handed at most that many. Npgsql's <c>Clear</c> drains the
    /// idle connections, but a second clear that starts while one is draining returns at once, so under many requests
    /// at once a run can still be handed a dead connection the first clear has not reached yet: three runs in a row were
    /// seen in the full test suite on a loaded machine. Each such run is safe (57P01 proves the statement had no effect).
    /// </summary>
    internal static int ShutdownRuns(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        return Math.Max(MaxRuns, (builder.Pooling ? builder.MaxPoolSize : 0) + 1);
    }

    // A command and the pooled connection it runs on; disposing returns the connection to the pool.
    private sealed class Lease(PostgreSqlSessionStore store, NpgsqlCommand command, NpgsqlConnection connection, bool idempotent) : IAsyncDisposable
    {
        private NpgsqlConnection _connection = connection;

        public NpgsqlCommand Command { get; } = command;

        public NpgsqlParameterCollection Parameters => Command.Parameters;

        public ValueTask<int> ExecuteAsync(CancellationToken cancellationToken) => RunAsync(RunNonQuery, cancellationToken);

        public ValueTask<object?> ScalarAsync(CancellationToken cancellationToken) => RunAsync(RunScalar, cancellationToken);

        // Only the statement's first reply can be run again: once rows are being read, a failure is the caller's.
        public ValueTask<NpgsqlDataReader> ReaderAsync(CommandBehavior behavior, CancellationToken cancellationToken) =>
            RunAsync(behavior == CommandBehavior.SingleRow ? RunSingleRowReader : RunReader, cancellationToken);

        private int RunsAllowed(NpgsqlException failure) =>
            failure is PostgresException { SqlState: PostgresErrorCodes.AdminShutdown } ? store._shutdownRuns : MaxRuns;

        public async ValueTask DisposeAsync()
        {
            await Command.DisposeAsync().ConfigureAwait(false);
            await _connection.DisposeAsync().ConfigureAwait(false);
        }

        private async ValueTask<T> RunAsync<T>(Func<NpgsqlCommand, CancellationToken, Task<T>> run, CancellationToken cancellationToken)
        {
            for (var attempt = 1; ; attempt++)
            {
                var sent = false;
                try
                {
                    // Preparing only parses: a failure here is a connection found dead before the statement was sent.
                    // Multiplexing refuses explicit preparation; its data source prepares automatically (Max Auto Prepare).
                    if (!store._multiplexing)
                    {
                        await Command.PrepareAsync(cancellationToken).ConfigureAwait(false);
                    }
                    sent = true;
                    return await run(Command, cancellationToken).ConfigureAwait(false);
                }
                catch (NpgsqlException failure) when (attempt < RunsAllowed(failure) && !cancellationToken.IsCancellationRequested && MayRunAgain(failure, sent, idempotent))
                {
                    Log.RunningAgain(store._logger, failure is PostgresException server ? server.SqlState : failure.InnerException!.GetType().Name, sent);
                    // Npgsql clears the pool itself when it sees these failures; clearing here too narrows the chance that
                    // the next run is handed another connection that was idle through the same restart (see ShutdownRuns
                    // for why it cannot rule it out).
                    store._dataSource.Clear();
                    await _connection.DisposeAsync().ConfigureAwait(false);
                    _connection = await store._dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
                    Command.Connection = _connection;
                }
            }
        }
    }
}
