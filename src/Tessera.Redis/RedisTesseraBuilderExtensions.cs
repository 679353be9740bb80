using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Tessera.NearCache;
using Tessera.Redis;
using Tessera.Redis.Resp;

namespace Tessera;

/// <summary>Chooses the Redis store on a <see cref="TesseraBuilder"/>.</summary>
public static class RedisTesseraBuilderExtensions
{
    /// <summary>
    /// The configuration section <see cref="UseRedisStore(TesseraBuilder, Action{RedisSessionStoreOptions}?)"/> binds to
    /// <see cref="RedisSessionStoreOptions"/>: <c>Tessera:Redis</c> (keys <c>ConnectionString</c>, <c>KeyPrefix</c>,
    /// <c>ExpiryMargin</c>, <c>MaxAnonymousSessions</c>).
    /// </summary>
    public const string ConfigurationSection = "Tessera:Redis";

    /// <summary>
    /// Uses <see cref="RedisSessionStore"/> with its options from configuration: the <c>Tessera:Redis</c> section
    /// (<see cref="ConfigurationSection"/>) is bound to <see cref="RedisSessionStoreOptions"/>, then
    /// <paramref name="configure"/> adjusts them, and they are validated when the host starts, with one message per bad
    /// value naming its key (an <see cref="Microsoft.Extensions.Options.OptionsValidationException"/>);
    /// <c>Tessera:Redis:ConnectionString</c> is required. Otherwise as
    /// <see cref="UseRedisStore(TesseraBuilder, string, Action{RedisSessionStoreOptions}?)"/>.
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="configure">Adjusts the bound options (code wins over configuration); <see langword="null"/> leaves them to configuration.</param>
    /// <returns>The builder.</returns>
    public static TesseraBuilder UseRedisStore(this TesseraBuilder builder, Action<RedisSessionStoreOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddStoreOptions<RedisSessionStoreOptions>(ConfigurationSection, configure, options => options.ProblemsWithConnectionString());
        return Register(builder, sp => sp.GetRequiredService<IOptions<RedisSessionStoreOptions>>().Value);
    }

    /// <summary>
    /// Uses <see cref="RedisSessionStore"/> on its own connection to <paramref name="connectionString"/> (opened on first
    /// use, closed with the container). The store is also registered as <see cref="RedisSessionStore"/>. The clock is the
    /// container's <see cref="TimeProvider"/> and logs go to its <see cref="ILoggerFactory"/>. The connection string and
    /// options are validated here, so a bad one fails at start-up. Reads no configuration: the options are what the
    /// arguments say. Also registers the store's
    /// <see cref="RedisSessionInvalidationChannel"/>, which <see cref="TesseraBuilder.UseNearCache"/> uses.
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="connectionString"><c>host:port[,password=...][,user=...][,database=N][,connectTimeout=ms][,commandTimeout=ms]</c>.</param>
    /// <param name="configure">Adjusts the key prefix and expiry margin; <see langword="null"/> keeps the defaults.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentException">An option is invalid.</exception>
    /// <exception cref="FormatException">The connection string is malformed.</exception>
    public static TesseraBuilder UseRedisStore(this TesseraBuilder builder, string connectionString, Action<RedisSessionStoreOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        var options = new RedisSessionStoreOptions();
        configure?.Invoke(options);
        options.ConnectionString = connectionString;
        options.Validate();
        RedisOptions.Parse(connectionString).Validate(); // fail at start-up on a string the client cannot use
        return Register(builder, _ => options);
    }

    private static TesseraBuilder Register(TesseraBuilder builder, Func<IServiceProvider, RedisSessionStoreOptions> options)
    {
        builder.Services.RemoveAll<RedisSessionStore>();
        builder.Services.AddSingleton(sp => new RedisSessionStore(
            options(sp),
            sp.GetService<TimeProvider>() ?? TimeProvider.System,
            sp.GetService<ILoggerFactory>()?.CreateLogger<RedisSessionStore>()));
        // The near cache's channel (pub/sub on a second connection): created only if UseNearCache() asks for it.
        builder.Services.RemoveAll<ISessionInvalidationChannel>();
        builder.Services.AddSingleton<ISessionInvalidationChannel>(sp => new RedisSessionInvalidationChannel(
            sp.GetRequiredService<RedisSessionStore>(),
            sp.GetService<ILoggerFactory>()?.CreateLogger<RedisSessionInvalidationChannel>()));
        return builder.UseStore(sp => sp.GetRequiredService<RedisSessionStore>());
    }
}
