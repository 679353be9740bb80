using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Tessera.NearCache;
using Tessera.PostgreSql;

namespace Tessera;

/// <summary>Chooses the PostgreSQL store on a <see cref="TesseraBuilder"/>.</summary>
public static class PostgreSqlTesseraBuilderExtensions
{
    /// <summary>
    /// The configuration section <see cref="UsePostgreSqlStore(TesseraBuilder, Action{PostgreSqlSessionStoreOptions}?)"/>
    /// binds to <see cref="PostgreSqlSessionStoreOptions"/>: <c>Tessera:PostgreSql</c> (keys such as <c>Schema</c>,
    /// <c>NamingStyle</c>, <c>CommandTimeout</c>, <c>ApplyMigrationsAtStartup</c>, and <c>ConnectionString</c> when the
    /// container has no data source).
    /// </summary>
    public const string ConfigurationSection = "Tessera:PostgreSql";

    /// <summary>
    /// Uses <see cref="PostgreSqlSessionStore"/> on its own data source built from <paramref name="connectionString"/>
    /// (disposed with the container). The store is also registered as <see cref="PostgreSqlSessionStore"/>, for
    /// <see cref="PostgreSqlSessionStore.LoadWithUserAsync(ReadOnlyMemory{byte}, CancellationToken)"/> and
    /// <see cref="PostgreSqlSessionStore.EnsureSchemaAsync"/>. Options are validated here, so a bad name fails at start-up.
    /// Reads no configuration: the options are what the arguments say.
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="connectionString">The Npgsql connection string, for example <c>Host=db;Username=app;Database=app</c>.</param>
    /// <param name="configure">Adjusts names, timeouts, start-up migrations and the user query; <see langword="null"/> keeps the defaults.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentException">The connection string or an option is invalid.</exception>
    public static TesseraBuilder UsePostgreSqlStore(this TesseraBuilder builder, string connectionString, Action<PostgreSqlSessionStoreOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        var options = Configure(configure);
        options.ConnectionString = connectionString;
        _ = new NpgsqlConnectionStringBuilder(connectionString); // fail at start-up on a string Npgsql cannot parse
        return Register(builder, sp => new PostgreSqlSessionStore(options, Time(sp), Logger(sp)));
    }

    /// <summary>
    /// Uses <see cref="PostgreSqlSessionStore"/> on <paramref name="dataSource"/>, which the caller owns (the store never
    /// disposes it). Otherwise as <see cref="UsePostgreSqlStore(TesseraBuilder, string, Action{PostgreSqlSessionStoreOptions}?)"/>.
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="dataSource">The data source.</param>
    /// <param name="configure">Adjusts the options; <see langword="null"/> keeps the defaults.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentException">An option is invalid.</exception>
    public static TesseraBuilder UsePostgreSqlStore(this TesseraBuilder builder, NpgsqlDataSource dataSource, Action<PostgreSqlSessionStoreOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(dataSource);
        var options = Configure(configure);
        return Register(builder, sp => new PostgreSqlSessionStore(dataSource, options, Time(sp), Logger(sp)));
    }

    /// <summary>
    /// Uses <see cref="PostgreSqlSessionStore"/> on the <see cref="NpgsqlDataSource"/> registered in the container (for
    /// example by <c>AddNpgsqlDataSource</c>; the container owns it), with its options from configuration: the
    /// <c>Tessera:PostgreSql</c> section (<see cref="ConfigurationSection"/>) is bound to
    /// <see cref="PostgreSqlSessionStoreOptions"/>, then <paramref name="configure"/> adjusts them, and they are validated
    /// when the host starts, with one message per bad value naming its key (an <see cref="Microsoft.Extensions.Options.OptionsValidationException"/>).
    /// The data source from the container comes first; only when none is registered does the store build (and own) one
    /// from <c>Tessera:PostgreSql:ConnectionString</c>. Otherwise as
    /// <see cref="UsePostgreSqlStore(TesseraBuilder, string, Action{PostgreSqlSessionStoreOptions}?)"/>.
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="configure">Adjusts the bound options (code wins over configuration); <see langword="null"/> leaves them to configuration.</param>
    /// <returns>The builder.</returns>
    /// <remarks>
    /// Resolving the store throws <see cref="InvalidOperationException"/> when the container has no
    /// <see cref="NpgsqlDataSource"/> and the section no connection string.
    /// </remarks>
    public static TesseraBuilder UsePostgreSqlStore(this TesseraBuilder builder, Action<PostgreSqlSessionStoreOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddStoreOptions<PostgreSqlSessionStoreOptions>(ConfigurationSection, configure, options => options.ProblemsWithConnectionString());
        return Register(builder, sp =>
        {
            var options = sp.GetRequiredService<IOptions<PostgreSqlSessionStoreOptions>>().Value;
            if (sp.GetService<NpgsqlDataSource>() is { } dataSource)
            {
                return new PostgreSqlSessionStore(dataSource, options, Time(sp), Logger(sp));
            }
            return string.IsNullOrWhiteSpace(options.ConnectionString)
                ? throw new InvalidOperationException($"UsePostgreSqlStore() needs an NpgsqlDataSource registered in the container (for example by AddNpgsqlDataSource) or {ConfigurationSection}:ConnectionString.")
                : new PostgreSqlSessionStore(options, Time(sp), Logger(sp));
        });
    }

    private static PostgreSqlSessionStoreOptions Configure(Action<PostgreSqlSessionStoreOptions>? configure)
    {
        var options = new PostgreSqlSessionStoreOptions();
        configure?.Invoke(options);
        options.Validate();
        return options;
    }

    private static TesseraBuilder Register(TesseraBuilder builder, Func<IServiceProvider, PostgreSqlSessionStore> factory)
    {
        builder.Services.RemoveAll<PostgreSqlSessionStore>();
        builder.Services.AddSingleton(factory);
        // Always registered (once); it does nothing unless the store in effect asks for start-up migrations.
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, PostgreSqlSchemaInitializer>());
        // Invalidation channels on the store's connection are created only when asked for: one for UseNearCache(), one for
        // the session-end watcher (a channel takes one listener).
        builder.Services.RemoveAll<SessionInvalidationChannelFactory>();
        builder.Services.AddSingleton<SessionInvalidationChannelFactory>(sp => () => new PostgreSqlSessionInvalidationChannel(
            sp.GetRequiredService<PostgreSqlSessionStore>(),
            sp.GetService<ILoggerFactory>()?.CreateLogger<PostgreSqlSessionInvalidationChannel>()));
        builder.Services.RemoveAll<ISessionInvalidationChannel>();
        builder.Services.AddSingleton(sp => sp.GetRequiredService<SessionInvalidationChannelFactory>()());
        return builder.UseStore(sp => sp.GetRequiredService<PostgreSqlSessionStore>());
    }

    private static TimeProvider Time(IServiceProvider services) => services.GetService<TimeProvider>() ?? TimeProvider.System;

    private static ILogger? Logger(IServiceProvider services) => services.GetService<ILoggerFactory>()?.CreateLogger<PostgreSqlSessionStore>();
}

/// <summary>
/// Applies the store's migrations when the host starts, before any hosted service's <c>StartAsync</c> (the cleanup
/// service's included); registered by <see cref="PostgreSqlSessionStoreOptions.ApplyMigrationsAtStartup"/>. A failure
/// stops the host: an app must not serve sessions against tables it cannot use.
/// </summary>
internal sealed class PostgreSqlSchemaInitializer(IServiceProvider services) : IHostedLifecycleService
{
    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        var store = services.GetService<PostgreSqlSessionStore>();
        if (store is null || !store.ApplyMigrationsAtStartup)
        {
            return;
        }
        try
        {
            await store.EnsureSchemaAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            var logger = services.GetService<ILoggerFactory>()?.CreateLogger<PostgreSqlSessionStore>();
            if (logger is not null)
            {
                Log.MigrationFailed(logger, e);
            }
            throw;
        }
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
