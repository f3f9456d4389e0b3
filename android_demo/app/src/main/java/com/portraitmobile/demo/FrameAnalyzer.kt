package com.portraitmobile.demo

import android.graphics.Bitmap
import android.graphics.Matrix
import androidx.camera.core.ImageAnalysis
import androidx.camera.core.ImageProxy

/**
 * Turns each CameraX analysis frame (RGBA_8888) into an upright bitmap as the user sees it in the
 * preview (rotated; mirrored for a front camera), then hands it to [onFrame] with [frontCamera].
 * One analyzer is made per camera binding, with the lens of the camera actually bound
 * (CameraPreview), so mirroring never follows a setting the camera has not caught up with.
 */
class FrameAnalyzer(private val frontCamera: Boolean, private val onFrame: (Bitmap, Boolean) -> Unit) :
    ImageAnalysis.Analyzer {
    private val matrix = Matrix()

    override fun analyze(image: ImageProxy) {
        image.use { proxy ->
            val raw = proxy.toBitmap()
            val rotation = proxy.imageInfo.rotationDegrees
            val upright = if (rotation == 0 && !frontCamera) {
                raw
            } else {
                matrix.reset()
                matrix.postRotate(rotation.toFloat())
                if (frontCamera) matrix.postScale(-1f, 1f)
                Bitmap.createBitmap(raw, 0, 0, raw.width, raw.height, matrix, true)
            }
            onFrame(upright, frontCamera)
        }
    }
}
