using Npgsql;

namespace Tessera.HttpBench;

/// <summary>What PostgreSQL ran for one measured run: statements and their execution time, per request of the run.</summary>
internal sealed record StatementShare(double PerRequest, double ExecutionMicrosecondsPerRequest);

/// <summary>
/// Counts the statements a run made PostgreSQL execute, from <c>pg_stat_statements</c> (bench/http.sh preloads it):
/// reset before the run, summed over the variant's own database after it. Connection resets, prepares and the
/// near cache's LISTEN are statements too, which is the point: they are what a request costs the server.
/// </summary>
internal sealed class PgStatements(string adminConnectionString)
{
    private bool _available = true;

    /// <summary>Creates the extension's view; false (and counting stays off) when the server did not preload it.</summary>
    public async Task<bool> EnableAsync(CancellationToken cancellationToken)
    {
        try
        {
            await ExecuteAsync("CREATE EXTENSION IF NOT EXISTS pg_stat_statements", cancellationToken);
            await ExecuteAsync("SELECT pg_stat_statements_reset()", cancellationToken);
        }
        catch (PostgresException)
        {
            _available = false;
        }
        return _available;
    }

    public Task ResetAsync(CancellationToken cancellationToken) =>
        _available ? ExecuteAsync("SELECT pg_stat_statements_reset()", cancellationToken) : Task.CompletedTask;

    /// <summary>The statements <paramref name="database"/> ran since the reset, per request of a run of <paramref name="requests"/>.</summary>
    public async Task<StatementShare?> ReadAsync(string database, long requests, CancellationToken cancellationToken)
    {
        if (!_available || requests <= 0)
        {
            return null;
        }
        await using var connection = new NpgsqlConnection(adminConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(
            "SELECT coalesce(sum(calls), 0)::float8, coalesce(sum(total_exec_time), 0)::float8 FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = $1",
            connection);
        command.Parameters.AddWithValue(database);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return new StatementShare(reader.GetDouble(0) / requests, reader.GetDouble(1) * 1000 / requests);
    }

    private async Task ExecuteAsync(string sql, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(adminConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
