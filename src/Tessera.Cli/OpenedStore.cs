using StackExchange.Redis;
using Tessera.NearCache;
using Tessera.PostgreSql;
using Tessera.Redis;
using Tessera.Sqlite;

namespace Tessera.Cli;

/// <summary>A store the tool opened from a <see cref="StoreUrl"/>, with what the commands need of it.</summary>
internal sealed class OpenedStore : IAsyncDisposable
{
    private readonly Func<ValueTask> _dispose;

    private readonly ISessionInvalidationChannel? _channel;

    private OpenedStore(ISessionStore store, Func<CancellationToken, Task<string>> migrate, Func<ValueTask> dispose, ISessionInvalidationChannel? channel = null)
    {
        Store = store;
        Admin = (ISessionStoreAdministration)store;
        Migrate = migrate;
        _dispose = dispose;
        _channel = channel;
    }

    public ISessionStore Store { get; }

    public ISessionStoreAdministration Admin { get; }

    /// <summary>Creates or upgrades the schema; returns what was done, in words.</summary>
    public Func<CancellationToken, Task<string>> Migrate { get; }

    /// <summary>
    /// Tells the apps sharing a PostgreSQL or Redis store that these sessions ended (<paramref name="ids"/>), or that
    /// every session did (<see langword="null"/>, after a clear): their near caches drop them and their connection
    /// lifetimes close the sessions' live connections at once. A SQLite store has no apps to tell beyond its file.
    /// </summary>
    /// <returns>The error when the message could not be sent (the apps then learn it within their own bounds), else null.</returns>
    public async Task<Exception?> AnnounceEndedAsync(IReadOnlyCollection<string>? ids, SessionRevocationReason reason, CancellationToken cancellationToken)
    {
        if (_channel is null)
        {
            return null;
        }
        try
        {
            if (ids is null)
            {
                await _channel.PublishAsync(null, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                foreach (var id in ids)
                {
                    await _channel.PublishEndedAsync(id, reason, cancellationToken).ConfigureAwait(false);
                }
            }
            return null;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return e;
        }
    }

    public static async Task<OpenedStore> OpenAsync(StoreUrl url, CancellationToken cancellationToken)
    {
        switch (url.Kind)
        {
            case StoreKind.Sqlite:
            {
                var store = new SqliteSessionStore(new SqliteSessionStoreOptions { ConnectionString = "Data Source=" + url.SqlitePath });
                // The schema is created on first use anyway; doing it now makes a bad path fail here, once.
                await store.InitializeAsync(cancellationToken).ConfigureAwait(false);
                return new OpenedStore(
                    store,
                    async ct =>
                    {
                        await store.InitializeAsync(ct).ConfigureAwait(false);
                        return $"SQLite schema is at version {SqliteSessionStore.SchemaVersion} in {store.DatabasePath}.";
                    },
                    store.DisposeAsync);
            }
            case StoreKind.PostgreSql:
            {
                var store = new PostgreSqlSessionStore(new PostgreSqlSessionStoreOptions
                {
                    ConnectionString = url.Postgres!.ConnectionString,
                    Schema = url.PostgresSchema,
                });
                return new OpenedStore(
                    store,
                    async ct =>
                    {
                        await store.EnsureSchemaAsync(ct).ConfigureAwait(false);
                        return $"PostgreSQL schema is at version {PostgreSqlSessionStore.SchemaVersion} ({store.SessionsTable}, {store.TokensTable}).";
                    },
                    store.DisposeAsync,
                    new PostgreSqlSessionInvalidationChannel(store));
            }
            default:
            {
                // The tool's own multiplexer, for this one command: connecting now makes an unreachable or refusing
                // server fail here, once (abortConnect), and it is closed with the store at exit.
                var connection = await ConnectionMultiplexer.ConnectAsync(url.Redis!).WaitAsync(cancellationToken).ConfigureAwait(false);
                RedisSessionStore store;
                try
                {
                    store = new RedisSessionStore(connection, new RedisSessionStoreOptions { KeyPrefix = url.RedisPrefix });
                }
                catch
                {
                    await connection.DisposeAsync().ConfigureAwait(false);
                    throw;
                }
                return new OpenedStore(
                    store,
                    async ct =>
                    {
                        // Nothing to create; a round trip proves the server answers.
                        await connection.GetDatabase().PingAsync().WaitAsync(ct).ConfigureAwait(false);
                        return $"Redis needs no migration: the store creates its keys (prefix '{url.RedisPrefix}') as it writes. The server answered.";
                    },
                    async () =>
                    {
                        await store.DisposeAsync().ConfigureAwait(false);
                        await connection.DisposeAsync().ConfigureAwait(false);
                    },
                    new RedisSessionInvalidationChannel(store));
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_channel is not null)
        {
            await _channel.DisposeAsync().ConfigureAwait(false);
        }
        await _dispose().ConfigureAwait(false);
    }
}
