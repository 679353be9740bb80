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
