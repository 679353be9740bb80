using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using Tessera.NearCache;
using Tessera.Redis;

namespace Tessera;

/// <summary>Chooses the Redis store on a <see cref="TesseraBuilder"/>.</summary>
public static class RedisTesseraBuilderExtensions
{
    /// <summary>
    /// The configuration section <see cref="UseRedisStore(TesseraBuilder, Action{RedisSessionStoreOptions}?)"/> binds to
    /// <see cref="RedisSessionStoreOptions"/>: <c>Tessera:Redis</c> (keys <c>ConnectionString</c>, <c>KeyPrefix</c>,
    /// <c>ExpiryMargin</c>, <c>MaxAnonymousSessions</c>, <c>ReplicaAcknowledgements</c>, <c>ReplicaAcknowledgementTimeout</c>,
    /// <c>CredentialLookupCacheSize</c>).
    /// </summary>
    public const string ConfigurationSection = "Tessera:Redis";

    /// <summary>
    /// Uses <see cref="RedisSessionStore"/> with its options from configuration: the <c>Tessera:Redis</c> section
    /// (<see cref="ConfigurationSection"/>) is bound to <see cref="RedisSessionStoreOptions"/>, then
    /// <paramref name="configure"/> adjusts them, and they are validated when the host starts, with one message per bad
    /// value naming its key (an <see cref="OptionsValidationException"/>). The connection: when the options name none
    /// (no <c>ConnectionString</c>, no <c>Configuration</c>) and the container has an <see cref="IConnectionMultiplexer"/>
    /// (the app's own, for its cache or SignalR backplane), the store uses that one and never disposes it; otherwise
    /// <c>Tessera:Redis:ConnectionString</c> is required and the store opens its own.
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="configure">Adjusts the bound options (code wins over configuration); <see langword="null"/> leaves them to configuration.</param>
    /// <returns>The builder.</returns>
    public static TesseraBuilder UseRedisStore(this TesseraBuilder builder, Action<RedisSessionStoreOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        bool AppHasMultiplexer() => services.Any(d => d.ServiceType == typeof(IConnectionMultiplexer));
        builder.AddStoreOptions<RedisSessionStoreOptions>(ConfigurationSection, configure, options =>
            NamesNoConnection(options) && AppHasMultiplexer() && options.ReplicaAcknowledgements == 0 ? options.Problems() : options.ProblemsWithConnectionString());
        return Register(builder, sp =>
        {
            var options = sp.GetRequiredService<IOptions<RedisSessionStoreOptions>>().Value;
            return NamesNoConnection(options) && sp.GetService<IConnectionMultiplexer>() is { } app
                ? Create(sp, app, options)
                : Create(sp, null, options);
        });
    }

    /// <summary>
    /// Uses <see cref="RedisSessionStore"/> on its own multiplexer from <paramref name="connectionString"/> (opened on
    /// first use, disposed with the container). Reads no configuration: the options are what the arguments say. The
    /// string and options are validated here, so a bad one fails at start-up.
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="connectionString">A StackExchange.Redis configuration string (see <see cref="RedisSessionStoreOptions.ConnectionString"/>).</param>
    /// <param name="configure">Adjusts the key prefix, expiry margin and bounds; <see langword="null"/> keeps the defaults.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentException">The string is malformed or an option is invalid.</exception>
    public static TesseraBuilder UseRedisStore(this TesseraBuilder builder, string connectionString, Action<RedisSessionStoreOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        var options = new RedisSessionStoreOptions();
        configure?.Invoke(options);
        options.ConnectionString = connectionString;
        options.Configuration = null;
        ThrowFirst(options.ProblemsWithConnectionString());
        return Register(builder, sp => Create(sp, null, options));
    }

    /// <summary>
    /// Uses <see cref="RedisSessionStore"/> on its own multiplexer from <paramref name="configuration"/> (a copy is
    /// taken; opened on first use, disposed with the container). Reads no configuration.
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="configuration">The StackExchange.Redis configuration (TLS validation, client certificates, ...).</param>
    /// <param name="configure">Adjusts the key prefix, expiry margin and bounds; <see langword="null"/> keeps the defaults.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentException">The configuration names no endpoint or an option is invalid.</exception>
    public static TesseraBuilder UseRedisStore(this TesseraBuilder builder, ConfigurationOptions configuration, Action<RedisSessionStoreOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configuration);
        var options = new RedisSessionStoreOptions();
        configure?.Invoke(options);
        options.Configuration = configuration.Clone();
        ThrowFirst(options.ProblemsWithConnectionString());
        return Register(builder, sp => Create(sp, null, options));
    }

    /// <summary>
    /// Uses <see cref="RedisSessionStore"/> on a multiplexer the app owns (shared with its cache, SignalR backplane or
    /// Data Protection keys): the store never disposes it. Reads no configuration.
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="connection">The app's multiplexer.</param>
    /// <param name="configure">Adjusts the key prefix, expiry margin and bounds; <see langword="null"/> keeps the defaults.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentException">An option is invalid.</exception>
    public static TesseraBuilder UseRedisStore(this TesseraBuilder builder, IConnectionMultiplexer connection, Action<RedisSessionStoreOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(connection);
        var options = new RedisSessionStoreOptions();
        configure?.Invoke(options);
        ThrowFirst(options.ReplicaAcknowledgements > 0 ? options.ProblemsWithConnectionString() : options.Problems());
        return Register(builder, sp => Create(sp, connection, options));
    }

    private static bool NamesNoConnection(RedisSessionStoreOptions options) =>
        string.IsNullOrWhiteSpace(options.ConnectionString) && options.Configuration is null;

    private static void ThrowFirst(IEnumerable<ArgumentException> problems)
    {
        if (problems.FirstOrDefault() is { } problem)
        {
            throw problem;
        }
    }

    private static RedisSessionStore Create(IServiceProvider sp, IConnectionMultiplexer? connection, RedisSessionStoreOptions options)
    {
        var time = sp.GetService<TimeProvider>() ?? TimeProvider.System;
        var logger = sp.GetService<ILoggerFactory>()?.CreateLogger<RedisSessionStore>();
        return connection is null ? new RedisSessionStore(options, time, logger) : new RedisSessionStore(connection, options, time, logger);
    }

    private static TesseraBuilder Register(TesseraBuilder builder, Func<IServiceProvider, RedisSessionStore> create)
    {
        builder.Services.RemoveAll<RedisSessionStore>();
        builder.Services.AddSingleton(create);
        // Invalidation channels on the store's connection are created only when asked for: one for UseNearCache(), one for
        // the session-end watcher (a channel takes one listener).
        builder.Services.RemoveAll<SessionInvalidationChannelFactory>();
        builder.Services.AddSingleton<SessionInvalidationChannelFactory>(sp => () => new RedisSessionInvalidationChannel(
            sp.GetRequiredService<RedisSessionStore>(),
            sp.GetService<ILoggerFactory>()?.CreateLogger<RedisSessionInvalidationChannel>()));
        builder.Services.RemoveAll<ISessionInvalidationChannel>();
        builder.Services.AddSingleton(sp => sp.GetRequiredService<SessionInvalidationChannelFactory>()());
        return builder.UseStore(sp => sp.GetRequiredService<RedisSessionStore>());
    }
}
