using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Tessera.AspNetCore.DataProtectionKeys;

namespace Tessera;

/// <summary>Keys from ASP.NET Core Data Protection instead of <see cref="TesseraOptions.Keys"/>.</summary>
public static class TesseraBuilderDataProtectionKeysExtensions
{
    /// <summary>
    /// Tessera generates its own keys, keeps them protected by the application's Data Protection (purpose
    /// <see cref="TesseraDataProtectionKeyDefaults.Purpose"/>) in the session store (or
    /// <see cref="TesseraDataProtectionKeyOptions.Store"/>), and rotates them (see <see cref="DataProtectionKeyRing"/>):
    /// they sign cookie credentials, access and refresh tokens, and the encrypted cookie store derives its keys from
    /// them. <see cref="TesseraOptions.Keys"/> are then optional; when given, they sign and verify only the tokens (JWTs),
    /// for another system (Compas) that must verify them. Instances that share the Data Protection key ring (same
    /// application name and key persistence) and the store share the keys. Adds Data Protection if it is not added yet;
    /// safe to call twice (the last <paramref name="configure"/> calls add up).
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="configure">Adjusts rotation and where the keys are kept; <see langword="null"/> keeps the defaults (90-day keys, 2 days of propagation, 30 days of retention, the session store).</param>
    /// <returns>The builder.</returns>
    /// <remarks>
    /// The host fails to start when the keys cannot be read (written under another Data Protection key ring) or when the
    /// session store cannot keep them and no <see cref="TesseraDataProtectionKeyOptions.Store"/> is set.
    /// </remarks>
    public static TesseraBuilder UseDataProtectionKeys(this TesseraBuilder builder, Action<TesseraDataProtectionKeyOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        services.AddDataProtection();
        services.Configure<TesseraOptions>(o => o.KeySource = "UseDataProtectionKeys()");
        services.AddOptions<TesseraDataProtectionKeyOptions>().ValidateOnStart();
        if (configure is not null)
        {
            services.Configure(configure);
        }
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TesseraDataProtectionKeyOptions>, TesseraDataProtectionKeyOptionsValidator>());
        services.TryAddSingleton(sp => new DataProtectionKeyRing(
            KeyRingStore(sp),
            sp.GetRequiredService<IDataProtectionProvider>(),
            sp.GetRequiredService<IOptions<TesseraDataProtectionKeyOptions>>(),
            sp.GetService<TimeProvider>() ?? TimeProvider.System,
            sp.GetService<ILogger<DataProtectionKeyRing>>() ?? NullLogger<DataProtectionKeyRing>.Instance));
        services.TryAddSingleton(sp =>
        {
            var generated = sp.GetRequiredService<DataProtectionKeyRing>().Ring;
            var configured = sp.GetRequiredService<IOptions<TesseraOptions>>().Value.Keys;
            return new TesseraKeyRings(generated, configured.Count > 0 ? SigningKeyRing.FromBase64(configured) : generated);
        });
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, DataProtectionKeyRingService>());
        return builder;
    }

    private static IKeyRingStore KeyRingStore(IServiceProvider services)
    {
        if (services.GetRequiredService<IOptions<TesseraDataProtectionKeyOptions>>().Value.Store is { } factory)
        {
            return factory(services);
        }
        var store = services.GetRequiredService<ISessionStore>();
        return store as IKeyRingStore ?? throw new InvalidOperationException(
            $"UseDataProtectionKeys() keeps Tessera's keys in the session store, but {store.GetType().Name} cannot keep them (it does not implement IKeyRingStore; " +
            "the encrypted cookie store keeps nothing server-side). Name a place every instance shares: UseDataProtectionKeys(o => o.Store = _ => new FileSystemKeyRingStore(directory)), or an IKeyRingStore of your own.");
    }
}
