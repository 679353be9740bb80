using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Tessera.Tests;

public sealed class TesseraOptionsValidatorTests
{
    private static TesseraOptions ValidOptions()
    {
        var options = new TesseraOptions();
        options.Keys.Add(SigningKeyRing.GenerateBase64Key());
        return options;
    }

    private static ValidateOptionsResult Validate(TesseraOptions options) => new TesseraOptionsValidator().Validate(null, options);

    [Fact]
    public void DefaultsWithOneKeyAreValid()
    {
        var result = Validate(ValidOptions());

        Assert.True(result.Succeeded, result.FailureMessage);
    }

    [Fact]
    public void TheDefaultsAreTheDocumentedOnes()
    {
        var options = new TesseraOptions();

        Assert.Equal(TimeSpan.FromMinutes(30), options.IdleTimeout);
        Assert.Equal(TimeSpan.FromHours(8), options.AbsoluteLifetime);
        Assert.Equal(TimeSpan.FromMinutes(1), options.TouchInterval);
        Assert.Equal(TimeSpan.FromMinutes(5), options.CleanupInterval);
        Assert.Equal(1000, options.CleanupBatchSize);
        Assert.Equal(TimeSpan.FromMilliseconds(10), options.CleanupBatchPause);
        Assert.True(options.CleanupEnabled);
        Assert.Empty(options.Keys);
        Assert.Equal(4096, options.VerifiedCredentialCacheSize);
    }

    [Fact]
    public void NoKeysFailsValidation()
    {
        var result = Validate(new TesseraOptions());

        Assert.True(result.Failed);
        Assert.Contains(result.Failures!, f => f.Contains("Tessera:Keys is empty", StringComparison.Ordinal));
    }

    [Fact]
    public void ABadKeyFailsValidationWithoutShowingTheKey()
    {
        const string bad = "definitely-not*base64*secret-material";
        var options = ValidOptions();
        options.Keys.Add(bad);

        var result = Validate(options);

        Assert.True(result.Failed);
        var failure = Assert.Single(result.Failures!);
        Assert.Contains("#2", failure, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", failure, StringComparison.Ordinal);
        Assert.DoesNotContain("(Parameter", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void AShortKeyFailsValidation()
    {
        var options = new TesseraOptions();
        options.Keys.Add(Convert.ToBase64String(new byte[16]));

        var result = Validate(options);

        Assert.True(result.Failed);
        Assert.Contains(result.Failures!, f => f.Contains("16 bytes", StringComparison.Ordinal));
    }

    public static TheoryData<string, Action<TesseraOptions>> BadSettings => new()
    {
        { "IdleTimeout must be positive", o => o.IdleTimeout = TimeSpan.Zero },
        { "IdleTimeout must be positive", o => { o.IdleTimeout = TimeSpan.FromMinutes(-1); o.TouchInterval = TimeSpan.Zero; } },
        { "AbsoluteLifetime must be at least", o => o.AbsoluteLifetime = TimeSpan.FromMinutes(29) },
        { "TouchInterval must be zero or more", o => o.TouchInterval = TimeSpan.FromMinutes(30) },
        { "TouchInterval must be zero or more", o => o.TouchInterval = TimeSpan.FromSeconds(-1) },
        { "CleanupInterval must be positive", o => o.CleanupInterval = TimeSpan.Zero },
        { "CleanupBatchSize must be at least 1", o => o.CleanupBatchSize = 0 },
        { "CleanupBatchPause must be between zero and one minute", o => o.CleanupBatchPause = TimeSpan.FromMilliseconds(-1) },
        { "CleanupBatchPause must be between zero and one minute", o => o.CleanupBatchPause = TimeSpan.FromMinutes(2) },
        { "JsonSerializerOptions must not be null", o => o.JsonSerializerOptions = null! },
        { "VerifiedCredentialCacheSize must be between 0 and 1000000", o => o.VerifiedCredentialCacheSize = -1 },
        { "VerifiedCredentialCacheSize must be between 0 and 1000000", o => o.VerifiedCredentialCacheSize = 1_000_001 },
    };

    [Theory]
    [MemberData(nameof(BadSettings))]
    public void EachBadSettingIsNamed(string expected, Action<TesseraOptions> spoil)
    {
        ArgumentNullException.ThrowIfNull(spoil);
        var options = ValidOptions();
        spoil(options);

        var result = Validate(options);

        Assert.True(result.Failed);
        Assert.Contains(result.Failures!, f => f.Contains(expected, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1_000_000)]
    public void AVerifiedCredentialCacheSizeAtEitherEndIsAllowed(int size)
    {
        var options = ValidOptions();
        options.VerifiedCredentialCacheSize = size;

        Assert.True(Validate(options).Succeeded);
    }

    [Fact]
    public void AZeroTouchIntervalIsAllowed()
    {
        var options = ValidOptions();
        options.TouchInterval = TimeSpan.Zero;

        Assert.True(Validate(options).Succeeded);
    }

    [Fact]
    public void EveryProblemIsReportedAtOnce()
    {
        var options = new TesseraOptions { CleanupBatchSize = 0, CleanupInterval = TimeSpan.Zero, AbsoluteLifetime = TimeSpan.FromMinutes(1) };

        var result = Validate(options);

        Assert.True(result.Failed);
        Assert.Equal(4, result.Failures!.Count());
    }

    [Fact]
    public void ValidationRunsAtStartUpThroughTheServiceCollection()
    {
        var services = new ServiceCollection();
        services.AddTesseraCore(o => o.CleanupBatchSize = 0);
        using var provider = services.BuildServiceProvider();

        var e = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<TesseraOptions>>().Value);

        Assert.Contains(e.Failures, f => f.Contains("Tessera:Keys is empty", StringComparison.Ordinal));
        Assert.Contains(e.Failures, f => f.Contains("CleanupBatchSize", StringComparison.Ordinal));
    }
}
