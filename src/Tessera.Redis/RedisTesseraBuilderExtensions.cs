using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Tessera.NearCache;
using Tessera.Redis;
using Tessera.Redis.Resp;

namespace Tessera;

/// <summary>Chooses the Redis store on a <see cref="TesseraBuilder"/>.</summary>
public static class RedisTesseraBuilderExtensions
{
    /// <summary>
    /// Uses <see cref="RedisSessionStore"/> on its own connection to <paramref name="connectionString"/> (opened on first
    /// use, closed with the container). The store is also registered as <see cref="RedisSessionStore"/>. The clock is the
    /// container's <see cref="TimeProvider"/> and logs go to its <see cref="ILoggerFactory"/>. The connection string and
    /// options are validated here, so a bad one fails at start-up. Also registers the store's
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
        builder.Services.RemoveAll<RedisSessionStore>();
        builder.Services.AddSingleton(sp => new RedisSessionStore(
            options,
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
