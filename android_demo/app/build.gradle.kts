import org.jetbrains.kotlin.gradle.dsl.JvmTarget

plugins {
    alias(libs.plugins.android.application)
    alias(libs.plugins.kotlin.android)
    alias(libs.plugins.kotlin.compose)
}

android {
    namespace = "com.portraitmobile.demo"
    compileSdk = 36

    defaultConfig {
        applicationId = "com.portraitmobile.demo"
        minSdk = 24
        targetSdk = 35
        versionCode = 1
        versionName = "0.1.0"
        testInstrumentationRunner = "androidx.test.runner.AndroidJUnitRunner"
    }

    // Two ways to run the same .tflite with LiteRT; pick one in Build Variants.
    flavorDimensions += "runtime"
    productFlavors {
        create("compiled") {
            // LiteRT 2.x CompiledModel API: CPU (XNNPACK), GPU and NPU accelerators.
            dimension = "runtime"
            isDefault = true
        }
        create("interpreter") {
            // LiteRT 1.x Interpreter API: XNNPACK, the GPU delegate and the NNAPI delegate.
            dimension = "runtime"
            applicationIdSuffix = ".interpreter"
            versionNameSuffix = "-interpreter"
        }
    }

    buildTypes {
        release {
            isMinifyEnabled = false
            proguardFiles(getDefaultProguardFile("proguard-android-optimize.txt"), "proguard-rules.pro")
            signingConfig = signingConfigs.getByName("debug")
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    buildFeatures {
        compose = true
        buildConfig = true
    }

    // LiteRT maps the model straight from the APK: keep it uncompressed.
    androidResources {
        noCompress += "tflite"
    }
}

kotlin {
    compilerOptions {
        jvmTarget.set(JvmTarget.JVM_17)
    }
}

dependencies {
    implementation(libs.androidx.core.ktx)
    implementation(libs.androidx.activity.compose)
    implementation(libs.androidx.lifecycle.runtime.ktx)
    implementation(libs.androidx.lifecycle.runtime.compose)
    implementation(libs.androidx.lifecycle.viewmodel.compose)
    implementation(platform(libs.androidx.compose.bom))
    implementation(libs.androidx.compose.ui)
    implementation(libs.androidx.compose.ui.graphics)
    implementation(libs.androidx.compose.ui.tooling.preview)
    implementation(libs.androidx.compose.material3)
    implementation(libs.androidx.camera.core)
    implementation(libs.androidx.camera.camera2)
    implementation(libs.androidx.camera.lifecycle)
    implementation(libs.androidx.camera.view)
    implementation(libs.kotlinx.coroutines.android)

    "compiledImplementation"(libs.litert)
    "compiledImplementation"(libs.litert.gpu)
    "interpreterImplementation"(libs.litert.interpreter)
    "interpreterImplementation"(libs.litert.interpreter.gpu)
    "interpreterImplementation"(libs.litert.interpreter.gpu.api)

    debugImplementation(libs.androidx.compose.ui.tooling)

    // Plain JVM unit tests of the contract parsing and tensor coding (./gradlew testCompiledDebugUnitTest).
    testImplementation(libs.junit)
    testImplementation(libs.org.json)
}
