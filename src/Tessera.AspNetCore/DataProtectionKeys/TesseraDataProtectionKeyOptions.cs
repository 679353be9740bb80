using Microsoft.Extensions.Options;

namespace Tessera.AspNetCore.DataProtectionKeys;

/// <summary>The defaults of <see cref="TesseraDataProtectionKeyOptions"/>.</summary>
public static class TesseraDataProtectionKeyDefaults
{
    /// <summary>How long a generated key signs new credentials: 90 days (Data Protection's own key lifetime).</summary>
    public static readonly TimeSpan KeyLifetime = TimeSpan.FromDays(90);

    /// <summary>How long before use a new key is generated: 2 days (Data Protection's own propagation time).</summary>
    public static readonly TimeSpan PropagationTime = TimeSpan.FromDays(2);

    /// <summary>How long a key still verifies after it stopped signing: 30 days.</summary>
    public static readonly TimeSpan RetiredKeyRetention = TimeSpan.FromDays(30);

    /// <summary>How often every instance re-reads the key ring: 1 hour.</summary>
    public static readonly TimeSpan RefreshInterval = TimeSpan.FromHours(1);

    /// <summary>
    /// The Data Protection purpose that protects the generated keys (<c>Tessera.KeyRing.v1</c>): Tessera's own, so no
    /// other protector of the application can unprotect them.
    /// </summary>
    public const string Purpose = "Tessera.KeyRing.v1";
}

/// <summary>
/// Options of <c>UseDataProtectionKeys()</c>: how Tessera's generated keys rotate and where they are kept. Validated at
/// start-up.
/// </summary>
public sealed class TesseraDataProtectionKeyOptions
{
    /// <summary>
    /// How long a generated key signs new credentials, from its activation. Default
    /// <see cref="TesseraDataProtectionKeyDefaults.KeyLifetime"/> (90 days); at least one day and longer than
    /// <see cref="PropagationTime"/>.
    /// </summary>
    public TimeSpan KeyLifetime { get; set; } = TesseraDataProtectionKeyDefaults.KeyLifetime;

    /// <summary>
    /// How long before the current key stops signing its successor is generated (the successor activates when the current
    /// key expires), so every instance has read the successor before any instance signs with it. Default
    /// <see cref="TesseraDataProtectionKeyDefaults.PropagationTime"/> (2 days); at least twice <see cref="RefreshInterval"/>.
    /// </summary>
    public TimeSpan PropagationTime { get; set; } = TesseraDataProtectionKeyDefaults.PropagationTime;

    /// <summary>
    /// How long a key keeps verifying after it stopped signing, so the credentials it signed live out their lifetimes.
    /// Default <see cref="TesseraDataProtectionKeyDefaults.RetiredKeyRetention"/> (30 days); at least
    /// <see cref="TesseraOptions.AbsoluteLifetime"/> and <see cref="Tokens.TesseraTokenOptions.SessionLifetime"/> (checked at
    /// start-up). A key past it is dropped from the ring and removed from the store at the next refresh.
    /// </summary>
    public TimeSpan RetiredKeyRetention { get; set; } = TesseraDataProtectionKeyDefaults.RetiredKeyRetention;

    /// <summary>
    /// How often each instance re-reads the key ring (and generates a successor when one is due), measured on the
    /// injected <see cref="TimeProvider"/>. Default <see cref="TesseraDataProtectionKeyDefaults.RefreshInterval"/>
    /// (1 hour); positive. An instance also re-reads when a known key activates or expires.
    /// </summary>
    public TimeSpan RefreshInterval { get; set; } = TesseraDataProtectionKeyDefaults.RefreshInterval;

    /// <summary>
    /// Where the key ring is kept, or <see langword="null"/> (the default) for the session store, which must then
    /// implement <see cref="IKeyRingStore"/> (the memory, SQLite, PostgreSQL and Redis stores do; the encrypted cookie
    /// store does not). Set it to keep the keys elsewhere: a <see cref="FileSystemKeyRingStore"/> on a directory every
    /// instance shares, or an <see cref="IKeyRingStore"/> of the application's own.
    /// </summary>
    public Func<IServiceProvider, IKeyRingStore>? Store { get; set; }
}

internal sealed class TesseraDataProtectionKeyOptionsValidator(IOptions<TesseraOptions> sessionOptions) : IValidateOptions<TesseraDataProtectionKeyOptions>
{
    public ValidateOptionsResult Validate(string? name, TesseraDataProtectionKeyOptions options)
    {
        var failures = new List<string>();
        if (options.RefreshInterval <= TimeSpan.Zero)
        {
            failures.Add("UseDataProtectionKeys: RefreshInterval must be positive.");
        }
        if (options.PropagationTime < 2 * options.RefreshInterval)
        {
            failures.Add("UseDataProtectionKeys: PropagationTime must be at least twice RefreshInterval, so every instance reads a new key before it signs.");
        }
        if (options.KeyLifetime < TimeSpan.FromDays(1) || options.KeyLifetime <= options.PropagationTime)
        {
            failures.Add("UseDataProtectionKeys: KeyLifetime must be at least one day and longer than PropagationTime.");
        }
        var session = sessionOptions.Value;
        var longest = session.AbsoluteLifetime > session.Tokens.SessionLifetime ? session.AbsoluteLifetime : session.Tokens.SessionLifetime;
        if (options.RetiredKeyRetention < longest)
        {
            failures.Add($"UseDataProtectionKeys: RetiredKeyRetention must be at least {longest} (the longest a credential lives: Tessera:AbsoluteLifetime and Tessera:Tokens:SessionLifetime), or credentials signed before a rotation stop working early.");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
