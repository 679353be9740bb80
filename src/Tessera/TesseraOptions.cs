using System.Text.Json;
using Microsoft.Extensions.Options;

namespace Tessera;

/// <summary>Options of the session core, validated at start-up. Bound from the <c>Tessera</c> configuration section.</summary>
public sealed class TesseraOptions
{
    /// <summary>
    /// Signing keys as base64, each at least 32 bytes; the first signs, all verify. Required: an empty list fails
    /// validation (the demo generates a development key; a production app must configure one).
    /// </summary>
    public IList<string> Keys { get; } = [];

    /// <summary>The sliding idle timeout. Default <see cref="TesseraDefaults.IdleTimeout"/> (30 minutes); must be positive.</summary>
    public TimeSpan IdleTimeout { get; set; } = TesseraDefaults.IdleTimeout;

    /// <summary>
    /// The absolute lifetime that caps everything, measured from creation. Default
    /// <see cref="TesseraDefaults.AbsoluteLifetime"/> (8 hours); must be at least <see cref="IdleTimeout"/>.
    /// </summary>
    public TimeSpan AbsoluteLifetime { get; set; } = TesseraDefaults.AbsoluteLifetime;

    /// <summary>
    /// How often the idle deadline may be extended. Default <see cref="TesseraDefaults.TouchInterval"/> (1 minute);
    /// zero extends it on every request (one write per request); must be shorter than <see cref="IdleTimeout"/>.
    /// </summary>
    public TimeSpan TouchInterval { get; set; } = TesseraDefaults.TouchInterval;

    /// <summary>
    /// Serializer options for typed values. Default: <see cref="JsonSerializerDefaults.Web"/> (camelCase,
    /// case-insensitive reading).
    /// </summary>
    public JsonSerializerOptions JsonSerializerOptions { get; set; } = new(JsonSerializerDefaults.Web);

    /// <summary>Whether the cleanup service runs. Default <see langword="true"/>.</summary>
    public bool CleanupEnabled { get; set; } = true;

    /// <summary>How often cleanup runs. Default <see cref="TesseraDefaults.CleanupInterval"/> (5 minutes); must be positive.</summary>
    public TimeSpan CleanupInterval { get; set; } = TesseraDefaults.CleanupInterval;

    /// <summary>Most sessions one cleanup batch deletes. Default <see cref="TesseraDefaults.CleanupBatchSize"/>; at least 1.</summary>
    public int CleanupBatchSize { get; set; } = TesseraDefaults.CleanupBatchSize;
}

/// <summary>Validates <see cref="TesseraOptions"/> at start-up, naming every problem at once and never a key's value.</summary>
public sealed class TesseraOptionsValidator : IValidateOptions<TesseraOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, TesseraOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (options.Keys.Count == 0)
        {
            failures.Add("Tessera:Keys is empty: configure at least one base64 signing key of 32 bytes or more (generate one with SigningKeyRing.GenerateBase64Key()).");
        }
        else
        {
            try
            {
                _ = SigningKeyRing.FromBase64(options.Keys);
            }
            catch (ArgumentException e)
            {
                failures.Add("Tessera:Keys: " + e.Message.Split(" (Parameter", 2)[0]);
            }
        }
        if (options.IdleTimeout <= TimeSpan.Zero)
        {
            failures.Add("Tessera:IdleTimeout must be positive.");
        }
        if (options.AbsoluteLifetime < options.IdleTimeout)
        {
            failures.Add("Tessera:AbsoluteLifetime must be at least Tessera:IdleTimeout.");
        }
        if (options.TouchInterval < TimeSpan.Zero || options.TouchInterval >= options.IdleTimeout)
        {
            failures.Add("Tessera:TouchInterval must be zero or more and shorter than Tessera:IdleTimeout.");
        }
        if (options.CleanupInterval <= TimeSpan.Zero)
        {
            failures.Add("Tessera:CleanupInterval must be positive.");
        }
        if (options.CleanupBatchSize < 1)
        {
            failures.Add("Tessera:CleanupBatchSize must be at least 1.");
        }
        if (options.JsonSerializerOptions is null)
        {
            failures.Add("Tessera:JsonSerializerOptions must not be null.");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
