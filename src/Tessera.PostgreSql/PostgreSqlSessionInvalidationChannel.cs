using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Tessera.NearCache;

namespace Tessera.PostgreSql;

/// <summary>
/// PostgreSQL <c>LISTEN</c>/<c>NOTIFY</c> for the near cache: messages are sent with <c>pg_notify</c> on a pooled
/// connection of the store's data source, on the channel <c>tessera:T</c> (<c>T</c> is the sessions table), and received
/// on one connection of the same data source held open with <c>LISTEN</c>. That connection reconnects by itself (backoff
/// from 100 ms to 5 s) and runs <c>SELECT 1</c> after every <see cref="HeartbeatInterval"/> without a notification, so
/// a dead connection is noticed within one interval plus the command timeout.
/// </summary>
/// <remarks>
/// PostgreSQL delivers a notification to every session listening at commit time, in commit order, and only to
/// connected listeners: while the connection is down the near cache is told it is not listening (and serves nothing
/// from memory). Channels are per database, so stores in different schemas of one database with the same table name
/// share invalidations, which costs extra reads and never correctness. A <c>LISTEN</c> needs a connection of its own,
/// which multiplexing never hands out: a store on a multiplexing data source listens on a non-multiplexing one (see
/// <see cref="PostgreSqlSessionStoreOptions.ListenConnectionString"/>).
/// </remarks>
public sealed class PostgreSqlSessionInvalidationChannel : SessionInvalidationChannel
{
    private readonly PostgreSqlSessionStore _store;
    private readonly NpgsqlDataSource _listenSource;
    private readonly ILogger _logger;

    /// <summary>Creates the channel of a store; nothing connects until <see cref="SessionInvalidationChannel.StartAsync"/>.</summary>
    /// <exception cref="InvalidOperationException">
    /// The store runs on a multiplexing data source the application built and
    /// <see cref="PostgreSqlSessionStoreOptions.ListenConnectionString"/> is not set.
    /// </exception>
    /// <param name="store">The store whose data source and sessions table are used.</param>
    /// <param name="logger">Logs connection failures; <see langword="null"/> logs nothing.</param>
    /// <param name="timeProvider">Times the retries and heartbeats (network time, not session expiry); <see langword="null"/> means <see cref="TimeProvider.System"/>.</param>
    public PostgreSqlSessionInvalidationChannel(PostgreSqlSessionStore store, ILogger? logger = null, TimeProvider? timeProvider = null)
        : base(timeProvider)
    {
        ArgumentNullException.ThrowIfNull(store);
        _listenSource = store.ListenSource ?? throw new InvalidOperationException(
            "The near cache's LISTEN needs a connection of its own, which a multiplexing data source cannot give: set PostgreSqlSessionStoreOptions.ListenConnectionString (a connection string without multiplexing), or give the store a connection string instead of a data source.");
        _store = store;
        _logger = logger ?? NullLogger.Instance;
        Channel = "tessera:" + store.SessionsTableName;
    }

    /// <summary>The notification channel: <c>tessera:</c> followed by the sessions table's name.</summary>
    public string Channel { get; }

    /// <summary>How long the listening connection may stay quiet before it is checked with <c>SELECT 1</c>: 5 seconds.</summary>
    public static TimeSpan HeartbeatInterval { get; } = TimeSpan.FromSeconds(5);

    /// <inheritdoc />
    public override async ValueTask PublishAsync(string? sessionId, CancellationToken cancellationToken = default)
    {
        var command = _store.DataSource.CreateCommand("SELECT pg_notify($1, $2)");
        await using var commandScope = command.ConfigureAwait(false);
        command.CommandTimeout = _store.CommandTimeoutSeconds;
        command.Parameters.Add(new NpgsqlParameter { Value = Channel });
        command.Parameters.Add(new NpgsqlParameter { Value = sessionId ?? Everything });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    protected override async Task ListenOnceAsync(ISessionInvalidationListener listener, Action subscribed, CancellationToken cancellationToken)
    {
        var connection = await _listenSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var connectionScope = connection.ConfigureAwait(false);
        connection.Notification += (_, e) => Deliver(listener, e.Payload);
        await ExecuteAsync(connection, "LISTEN " + QuoteIdentifier(Channel), cancellationToken).ConfigureAwait(false);
        subscribed();
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                if (!await connection.WaitAsync(HeartbeatInterval, cancellationToken).ConfigureAwait(false))
                {
                    await ExecuteAsync(connection, "SELECT 1", cancellationToken).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            if (connection.FullState == System.Data.ConnectionState.Open)
            {
                // The connection goes back to the pool: it must not keep listening there.
                await ExecuteAsync(connection, "UNLISTEN *", CancellationToken.None).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    /// <inheritdoc />
    protected override void OnListenFailed(Exception exception, TimeSpan retryDelay) =>
        Log.ListenFailed(_logger, (long)retryDelay.TotalMilliseconds, exception);

    private async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        var command = new NpgsqlCommand(sql, connection) { CommandTimeout = _store.CommandTimeoutSeconds };
        await using var commandScope = command.ConfigureAwait(false);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static string QuoteIdentifier(string name) => "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
}
