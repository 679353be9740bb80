using System.Security.Cryptography;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Tessera.TestServices;

/// <summary>
/// What the store configuration tests of every store share: a host whose configuration is given (the way an app's
/// appsettings would be), on a test clock, with a fresh signing key, and a live session record to write. Linked into
/// the store test projects.
/// </summary>
internal static class StoreConfigurationHost
{
    /// <summary>
    /// Builds a host with <paramref name="configuration"/> as its configuration and <paramref name="clock"/> as its
    /// <see cref="TimeProvider"/>; <paramref name="services"/> registers more first (say, a data source), then
    /// <paramref name="useStore"/> picks the store on Tessera's builder.
    /// </summary>
    public static IHost Build(
        Dictionary<string, string?> configuration, TimeProvider clock, Action<TesseraBuilder> useStore, Action<IServiceCollection>? services = null)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(configuration);
        builder.Services.AddSingleton(clock);
        services?.Invoke(builder.Services);
        useStore(builder.Services.AddTesseraCore(o => o.Keys.Add(SigningKeyRing.GenerateBase64Key())));
        return builder.Build();
    }

    /// <summary>A new anonymous session, live for 30 minutes of idleness from <paramref name="clock"/>'s now.</summary>
    public static SessionRecord NewRecord(TimeProvider clock)
    {
        var now = clock.GetUtcNow();
        return new SessionRecord
        {
            Id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)),
            CredentialHash = RandomNumberGenerator.GetBytes(32),
            Data = new Dictionary<string, string>(),
            CreatedAt = now,
            LastSeenAt = now,
            IdleExpiresAt = now.AddMinutes(30),
            AbsoluteExpiresAt = now.AddHours(8),
        };
    }
}
