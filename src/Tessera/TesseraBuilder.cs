using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Tessera;

/// <summary>Configures Tessera's services; store packages add <c>Use...Store</c> methods to it.</summary>
public sealed class TesseraBuilder
{
    internal TesseraBuilder(IServiceCollection services) => Services = services;

    /// <summary>The service collection being configured.</summary>
    public IServiceCollection Services { get; }

    /// <summary>
    /// Uses a store, replacing any chosen before. The store is a singleton.
    /// </summary>
    /// <param name="factory">Creates the store from the container.</param>
    /// <returns>This builder.</returns>
    public TesseraBuilder UseStore(Func<IServiceProvider, ISessionStore> factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        Services.RemoveAll<ISessionStore>();
        Services.AddSingleton(factory);
        return this;
    }

    /// <summary>
    /// Puts a <see cref="NearCache.NearCacheSessionStore"/> in front of the store chosen so far: session reads are served
    /// from process memory and invalidated across instances through the store's <see cref="NearCache.ISessionInvalidationChannel"/>
    /// (Redis pub/sub, PostgreSQL <c>LISTEN</c>/<c>NOTIFY</c>). Call it after <c>UseRedisStore</c> or
    /// <c>UsePostgreSqlStore</c>; choosing a store afterwards replaces the cached one. The channel is subscribed when the
    /// host starts (waiting at most <see cref="NearCache.NearCacheOptions.StartTimeout"/>). Off by default.
    /// </summary>
    /// <param name="configure">Adjusts staleness and size; <see langword="null"/> keeps the defaults (5 seconds, 100,000 sessions).</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">No store was chosen yet.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    /// <remarks>
    /// Resolving the store fails with <see cref="InvalidOperationException"/> when the chosen store registers no
    /// invalidation channel (the memory and SQLite stores live in one process and need no near cache).
    /// </remarks>
    public TesseraBuilder UseNearCache(Action<NearCache.NearCacheOptions>? configure = null)
    {
        var options = new NearCache.NearCacheOptions();
        configure?.Invoke(options);
        options.Validate();
        var chosen = Services.LastOrDefault(d => d.ServiceType == typeof(ISessionStore))
            ?? throw new InvalidOperationException("Choose the store (for example UseRedisStore or UsePostgreSqlStore) before UseNearCache().");
        Func<IServiceProvider, ISessionStore> inner = chosen switch
        {
            { ImplementationFactory: { } factory } => sp => (ISessionStore)factory(sp),
            { ImplementationInstance: ISessionStore instance } => _ => instance,
            _ => sp => (ISessionStore)ActivatorUtilities.CreateInstance(sp, chosen.ImplementationType!),
        };
        UseStore(sp =>
        {
            var store = inner(sp);
            var channel = sp.GetService<NearCache.ISessionInvalidationChannel>() ?? throw new InvalidOperationException(
                $"UseNearCache() needs a store that can tell other instances about changes (Redis or PostgreSQL); {store.GetType().Name} registers no ISessionInvalidationChannel.");
            return new NearCache.NearCacheSessionStore(
                store,
                channel,
                options,
                sp.GetService<TimeProvider>() ?? TimeProvider.System,
                sp.GetService<Microsoft.Extensions.Logging.ILogger<NearCache.NearCacheSessionStore>>(),
                sp.GetService<TesseraMetrics>());
        });
        Services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, NearCache.NearCacheStartup>());
        return this;
    }

    /// <summary>Uses the in-memory store (the default when no store is chosen).</summary>
    /// <param name="configure">Adjusts its bound; <see langword="null"/> keeps the defaults.</param>
    /// <returns>This builder.</returns>
    public TesseraBuilder UseMemoryStore(Action<InMemorySessionStoreOptions>? configure = null)
    {
        var options = new InMemorySessionStoreOptions();
        configure?.Invoke(options);
        return UseStore(sp => new InMemorySessionStore(sp.GetService<TimeProvider>() ?? TimeProvider.System, options));
    }
}

/// <summary>Registers Tessera's core services.</summary>
public static class TesseraServiceCollectionExtensions
{
    /// <summary>
    /// Adds the session core: options (validated at start-up), <see cref="SessionManager"/>, <see cref="TesseraMetrics"/>, the in-memory store unless
    /// another is chosen, the cleanup service, and <see cref="TimeProvider.System"/> unless a clock is registered.
    /// Safe to call twice: the second call only adds its configuration.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Configures the options; <see langword="null"/> leaves them to configuration binding.</param>
    /// <returns>A builder to choose the store with.</returns>
    public static TesseraBuilder AddTesseraCore(this IServiceCollection services, Action<TesseraOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddOptions<TesseraOptions>().ValidateOnStart();
        if (configure is not null)
        {
            services.Configure(configure);
        }
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TesseraOptions>, TesseraOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<ISessionStore>(sp => new InMemorySessionStore(sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton(sp => new TesseraMetrics(sp.GetService<System.Diagnostics.Metrics.IMeterFactory>()));
        services.TryAddSingleton<SessionManager>();
        services.TryAddSingleton<SessionCleanupService>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, SessionCleanupService>(sp => sp.GetRequiredService<SessionCleanupService>()));
        return new TesseraBuilder(services);
    }
}
